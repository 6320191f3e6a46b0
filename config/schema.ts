/**
 * The one schema of a center's config file. The TypeScript types used by the
 * rest of qhub are inferred from it (`CenterConfig`), and so are the defaults:
 * nothing here is written twice.
 *
 * Every message is phrased as "what is wrong, what to do", because
 * `qhub check-config` prints it after `FILE:LINE: key.path:`.
 */
import { validate as validCron } from 'node-cron';
import { z } from 'zod';

export const CONFIG_VERSION = 1;

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** People's roles (contract/roles.ts says what each may do). */
export const ROLES = ['supervisor', 'clerk', 'reception', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;
const ID = /^[a-z0-9][a-z0-9_-]{0,47}$/;

const id = (what: string, example: string) =>
  z
    .string({ error: `must be a text id for the ${what}, e.g. "${example}"` })
    .regex(ID, { error: `must be a ${what} id of lowercase letters, digits, "-" or "_" (at most 48), e.g. "${example}"` });

const clock = (what: string) =>
  z.string({ error: `must be a time "HH:MM" (${what})` }).regex(HHMM, { error: `must be a 24-hour time "HH:MM" (${what}), e.g. "08:00"` });

/** A name in the center's languages; Arabic is required, English optional. */
export const Names = z.strictObject({
  ar: z.string({ error: 'must be the Arabic name as text' }).min(1, { error: 'must not be empty: give the Arabic name' }),
  en: z
    .string({ error: 'must be the English name as text' })
    .min(1, { error: 'must not be empty: give the English name, or remove the en line' })
    .optional(),
});

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Keys a reload cannot apply (a listening port, the data directory...): `qhub reload` names them and they wait for a restart. */
export const RESTART = { restart: true } as const;

export const Center = z.strictObject({
  /** Names every forwarded event's key: changes only at a restart. */
  id: id('center', 'mansoura-tc').meta(RESTART),
  name: Names,
  timezone: z
    .string()
    .refine(validTimeZone, { error: 'is not a known IANA time zone: use a name like "Africa/Cairo"' })
    .default('Africa/Cairo'),
  languages: z
    .array(z.enum(['ar', 'en'], { error: 'must be "ar" or "en"' }))
    .min(1, { error: 'must list at least one language, e.g. [ar, en]' })
    .default(['ar', 'en']),
  day: z
    .strictObject({
      /** Opening hours, local time: shown to citizens, used by schedules. */
      opens: clock('opening time').default('08:00'),
      closes: clock('closing time').default('15:00'),
      /** Local time at which the business day ends and numbering restarts. */
      rollover: clock('numbering restart').default('03:00'),
      /** What happens to tickets still waiting at rollover. */
      leftovers: z.enum(['cancel', 'carry'], { error: 'must be "cancel" or "carry"' }).default('cancel'),
    })
    .prefault({}),
  /**
   * Opening hours per weekday, local time: ["08:00", "15:00"], or "closed".
   * A day left out: Sunday to Thursday open from day.opens to day.closes,
   * Friday and Saturday closed. Device alerts are raised only while open.
   */
  hours: z
    .strictObject(
      Object.fromEntries(
        WEEKDAYS.map((d) => [
          d,
          z
            .union([z.literal('closed'), z.tuple([clock('opening time'), z.string().regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, { error: 'must be a closing time "HH:MM", or "24:00" for midnight' })])], { error: 'must be ["HH:MM", "HH:MM"] (opens, closes; "24:00" for midnight) or "closed"' })
            .optional(),
        ]),
      ) as Record<(typeof WEEKDAYS)[number], z.ZodOptional<z.ZodUnion<[z.ZodLiteral<'closed'>, z.ZodTuple<[z.ZodString, z.ZodString]>]>>>,
    )
    .prefault({}),
});

/** Alerts for supervisors (docs/OPERATIONS.md): when a device is missing or failing in opening hours, or a queue passes a threshold. */
export const Alerts = z
  .strictObject({
    /** A device offline this long during opening hours raises an alert (a reboot takes less). */
    deviceOfflineSeconds: z.number().int().min(0).max(3600).default(60),
    /** A device that went offline this many times within `flapMinutes` is flapping (a loose cable, weak Wi-Fi). */
    flapCount: z.number().int().min(2).max(1000).default(5),
    flapMinutes: z.number().min(1).max(24 * 60).default(10),
    /** More than this many citizens waiting for one service raises an alert; none: no such alert. */
    waiting: z.number().int().min(1).max(100_000).optional(),
    /** The longest wait of a service over its targetWaitMinutes raises an alert. */
    longestWait: z.boolean().default(true),
  })
  .prefault({});

/** What the hub does by itself while a device is down (daemon/fallbacks). */
export const Fallbacks = z
  .strictObject({
    /** While no speaker of a hall zone is online, its boards flash a new call this many seconds. */
    speakerDownFlashSeconds: z.number().int().min(1).max(600).default(30),
  })
  .prefault({});

/** The morning check of every device (daemon/selftest; `qhub selftest`). */
export const Selftest = z
  .strictObject({
    /** Run it this long (HH:MM) before each opening of center.hours; absent: only on demand. */
    before: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'must be HH:MM, e.g. "00:15" (15 minutes before opening)' }).optional(),
    /** How long a speaker has to say `played` for the chime. */
    answerSeconds: z.number().int().min(1).max(120).default(10),
    /** How long boards, window displays and keypads show the test pattern before their real view comes back. */
    showSeconds: z.number().int().min(1).max(120).default(5),
  })
  .prefault({});

export const PriorityRule = z.discriminatedUnion(
  'rule',
  [
    z.strictObject({ rule: z.literal('always') }),
    z.strictObject({
      rule: z.literal('interleave'),
      /** One priority ticket after every `every` normal ones. */
      every: z.number().int().min(1, { error: 'must be 1 or more' }).max(100),
    }),
  ],
  { error: 'must be {rule: always} or {rule: interleave, every: N}' },
);

export const Queue = z
  .strictObject({
    priority: PriorityRule.default({ rule: 'interleave', every: 3 }),
    /** Minutes after a no-show during which the citizen may be returned to the queue. */
    noShowGraceMinutes: z.number().min(0).max(24 * 60).default(15),
    /** Where a returned no-show goes. */
    noShowReturn: z.enum(['front', 'back']).default('front'),
    /** Where a ticket transferred into a service goes, unless the service says otherwise. */
    transferPosition: z.enum(['front', 'back']).default('front'),
    /** What "next" does while the window still holds a citizen. */
    busyNext: z
      .strictObject({
        called: z.enum(['finish', 'noShow', 'reject']).default('finish'),
        serving: z.enum(['finish', 'reject']).default('finish'),
      })
      .prefault({}),
    /** A closed or paused window that calls next is opened by it. */
    openOnCall: z.boolean().default(true),
    /**
     * "Your turn is near": when a waiting ticket linked to a request has this
     * many people or fewer ahead of it, a `ticket.near` event goes to the
     * backend (once per ticket and queue), so it can send the citizen an SMS.
     */
    nearAhead: z.number().int().min(0).max(1000).optional(),
    /** Service-time model for the expected wait printed on tickets. */
    estimate: z
      .strictObject({
        samples: z.number().int().min(1).max(500).default(20),
        defaultServiceMinutes: z.number().min(0.1).max(600).default(5),
      })
      .prefault({}),
  })
  .prefault({});

export const Service = z.strictObject({
  id: id('service', 'intake'),
  name: Names,
  prefix: z
    .string({ error: 'must be a ticket prefix: one to three capital letters, e.g. "A"' })
    .regex(/^[A-Z]{1,3}$/, { error: 'must be one to three capital Latin letters, e.g. "A"' }),
  first: z.number().int().min(0).max(99998).default(1),
  last: z.number().int().min(1).max(99999).default(999),
  priority: z.boolean().default(false),
  /** Overrides queue.transferPosition for tickets transferred into this service. */
  transferPosition: z.enum(['front', 'back']).optional(),
  /** Reports: the service level is the share of tickets called within this many minutes. */
  targetWaitMinutes: z.number({ error: 'must be a number of minutes, e.g. 15' }).min(1, { error: 'must be 1 minute or more' }).max(24 * 60).default(15),
});

export const WINDOW_KINDS = ['intake', 'treasury', 'delivery', 'inquiry', 'complaints'] as const;

export const Window = z.strictObject({
  number: z
    .number({ error: 'must be the window number, e.g. 3' })
    .int({ error: 'must be a whole window number, e.g. 3' })
    .min(1, { error: 'must be a window number from 1 to 999' })
    .max(999, { error: 'must be a window number from 1 to 999' }),
  name: Names.optional(),
  kind: z.enum(WINDOW_KINDS, { error: `must be one of ${WINDOW_KINDS.join(', ')}` }),
  /** Services called by this window, in order of preference. */
  services: z.array(id('service', 'intake')).min(1, { error: 'must list at least one service id this window calls' }),
  /** "order": the first service in the list with someone waiting; "oldest": the longest waiter across them. */
  pick: z.enum(['order', 'oldest']).default('order'),
  zone: id('hall zone', 'hall').default('hall'),
});

export const DEVICE_KINDS = ['dispenser', 'keypad', 'board', 'display', 'speaker'] as const;

const devicePath = z
  .string()
  .min(1, { error: 'must be a device path, preferably /dev/serial/by-id/... (the same adapter after a replug or reboot)' })
  .refine((p) => p.startsWith('/'), { error: 'must be a full device path, like /dev/serial/by-id/usb-FTDI_...-if00-port0 (ls /dev/serial/by-id/ lists them)' });
/** Data bits, parity (N, E, O, M, S) and stop bits, as printed on the device: 8N1. */
const framing = z
  .string()
  .regex(/^[5-8][NEOMS](1|1\.5|2)$/, { error: 'must be data bits, parity and stop bits like 8N1, 7E1 or 8N2' })
  .default('8N1');
const pin = z.number().int().min(0).max(127);

export const Transport = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('mqtt') }),
    z.strictObject({
      type: z.literal('serial'),
      path: devicePath,
      baud: z.number().int().positive().default(9600),
      framing,
      /** A bus address (Modbus slave id) when several devices share one line. */
      address: z.number().int().min(1).max(247).optional(),
    }),
    z.strictObject({
      type: z.literal('firmata'),
      /** The Arduino running StandardFirmata. */
      path: devicePath,
      baud: z.number().int().positive().default(57600),
      /** One pin per button, in button order (the order of the bound services); pressed = pulled to ground. */
      buttons: z.array(pin).min(1, { error: 'must list at least one button pin' }),
      led: pin.optional(),
      buzzer: pin.optional(),
      /** How long a button must read the same before a press or release counts. */
      debounceMs: z.number().int().min(5).max(500).default(30),
      /** The ticket printer (ESC/POS) on its own serial line. */
      printer: z
        .strictObject({
          path: devicePath,
          baud: z.number().int().positive().default(9600),
          framing,
          /** 80 mm paper: 576 dots; 58 mm: 384. */
          widthDots: z.union([z.literal(576), z.literal(384)], { error: 'must be 576 (80 mm paper) or 384 (58 mm paper)' }).default(576),
        })
        .optional(),
    }),
    /** A page of the hub's web server (the hall display at /hall/<zone>): its board view and announcements go over Server-Sent Events. */
    z.strictObject({ type: z.literal('web') }),
  ],
  { error: 'must be {type: mqtt}, {type: serial, path: ...}, {type: firmata, path: ..., buttons: [...]} or {type: web}' },
);

export const Secret = z.union(
  [
    z.string().min(8, { error: 'is too short: use at least 8 characters' }),
    z.strictObject({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { error: 'must be an environment variable name' }) }),
    z.strictObject({ file: z.string().min(1) }),
  ],
  { error: 'must be the secret text, {env: VARIABLE} or {file: path}' },
);

export const Device = z.strictObject({
  id: id('device', 'kp-1'),
  kind: z.enum(DEVICE_KINDS, { error: `must be one of ${DEVICE_KINDS.join(', ')}` }),
  model: z.string().min(1).default('generic'),
  transport: Transport.default({ type: 'mqtt' }),
  /** Omit to take it from the secrets file (`secrets:` at the top). */
  secret: Secret.optional(),
  bind: z
    .strictObject({
      window: z.number().int().min(1).optional(),
      services: z.array(id('service', 'intake')).min(1).optional(),
      zone: id('hall zone', 'hall').optional(),
    })
    .prefault({}),
  /** A device can be taken out of service without deleting it. */
  enabled: z.boolean().default(true),
  /** A dispenser only: the dispenser that issues this one's services while this one is down. */
  fallback: id('device', 'disp-2').optional(),
});

export const Tls = z.strictObject({
  port: z.number().int().min(0).max(65535).default(8883),
  cert: z.string().min(1),
  key: z.string().min(1),
});

export const Hub = z
  .strictObject({
    dataDir: z.string().min(1).optional().meta(RESTART),
    /** Log levels per module, e.g. {mqtt: debug, wired: warn} (QHUB_LOG_LEVEL=info,mqtt=debug wins over it). At start. */
    logLevels: z.record(z.string().regex(/^[a-z][a-z-]*$/, { error: 'must be a module name, e.g. mqtt' }), z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], { error: 'must be trace, debug, info, warn, error, fatal or silent' })).default({}),
    /** The local command socket of the technician's command line (default <dataDir>/qhub.sock; mode 0660). */
    socket: z.string().min(1).max(100).optional().meta(RESTART),
    mqtt: z
      .strictObject({
        host: z.string().default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(1883),
        tls: Tls.optional(),
        /** Per-client limits: one stuck or hostile device must not slow the others. */
        maxPayloadBytes: z.number().int().min(256).max(1_048_576).default(8192),
        maxTopicLevels: z.number().int().min(3).max(32).default(8),
        messagesPerSecond: z.number().min(1).max(10_000).default(20),
        burst: z.number().int().min(1).max(10_000).default(40),
        /** Open connections at most, in all and from one address (loopback is not counted per address). */
        maxConnections: z.number().int().min(1).max(100_000).default(2000),
        maxConnectionsPerAddress: z.number().int().min(1).max(10_000).default(32),
        /** Logins a second one device may make, after a burst of 5. */
        loginsPerSecond: z.number().min(0.01).max(1000).default(1),
      })
      .meta(RESTART)
      .prefault({}),
    http: z
      .strictObject({
        host: z.string().default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(8080),
      })
      .meta(RESTART)
      .prefault({}),
    /**
     * People: they log in to the API and the web pages with a password
     * (stored as a scrypt hash, written by `qhub user add`), and dashboards
     * or tools may subscribe to MQTT with a `secret`. Roles: supervisor,
     * clerk (bound to `windows`), reception, viewer. "admin" and "monitor"
     * are the older names of supervisor and viewer.
     */
    users: z
      .array(
        z.strictObject({
          name: id('user', 'supervisor'),
          role: z
            .enum([...ROLES, 'admin', 'monitor'], { error: `must be one of ${ROLES.join(', ')}` })
            .transform((r): Role => (r === 'admin' ? 'supervisor' : r === 'monitor' ? 'viewer' : r)),
          /** A clerk's windows. */
          windows: z.array(z.number().int().min(1).max(999)).min(1).optional(),
          /** scrypt hash from `qhub user add`; never the password itself. */
          password: z
            .string()
            .regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, { error: 'must be a password hash written by "qhub user add NAME --role ROLE" (scrypt$...), never the password itself' })
            .optional(),
          /** For MQTT subscriptions (dashboards, tools): the secret text, {env} or {file}. */
          secret: Secret.optional(),
        }),
      )
      .default([]),
  })
  .prefault({});

/** Forwarding the event log to the request-tracking backend. */
export const Webhook = z.strictObject({
  /** https://… (http:// only for a backend on the hub itself or in tests). */
  url: z.url({ error: 'must be the backend URL, e.g. https://backend.example/qhub/events' }),
  /** Shared secret for the HMAC-SHA256 signature of each batch. */
  secret: Secret,
  /** A private CA (PEM file) the backend's certificate is signed by. */
  ca: z.string().min(1).optional(),
  batch: z.number().int().min(1).max(5000).default(500),
  /** Wait this long after an event for more to send them together. */
  lingerMs: z.number().int().min(0).max(60_000).default(200),
  timeoutMs: z.number().int().min(100).max(300_000).default(10_000),
  /** Retries back off from 1 s up to this, with jitter. */
  maxBackoffMs: z.number().int().min(100).max(3_600_000).default(60_000),
});

/** How calls are spoken (docs/VOICE.md). */
export const Voice = z
  .strictObject({
    /** The clip pack folder, relative to the data directory (qhub voice pack writes a demo one there). */
    pack: z.string().min(1).default('voice'),
    /** Languages of a call, in order; default: the center's languages. */
    languages: z.array(z.enum(['ar', 'en'])).min(1).optional(),
    /** A chime before each call (left out when calls queue up faster than they are spoken). */
    chime: z.boolean().default(true),
    /** Silence between the words of a call. */
    pauseMs: z.number().int().min(0).max(2000).default(60),
    /** Silence after the chime and between the Arabic and the English part. */
    langPauseMs: z.number().int().min(0).max(3000).default(350),
    /** How a delivery call reads an inquiry number. */
    inquiry: z.enum(['digits', 'pairs', 'triples']).default('digits'),
    /** A zone with this many calls still waiting to be spoken gets the short form (no chime, fewer words). */
    shortenAt: z.number().int().min(1).max(100).default(2),
    /** When every speaker of a zone is away, a call waits this long for one to come back before it is given up (and logged). */
    holdMs: z.number().int().min(0).max(600_000).default(60_000),
    /** A speaker that has not said `played` this long after a call's length is taken to be done. */
    playedTimeoutMs: z.number().int().min(200).max(60_000).default(3000),
    /** The Pi's own audio output (ALSA): plays the calls of these zones. */
    local: z
      .strictObject({
        device: z.string().min(1).default('default'),
        zones: z.array(id('hall zone', 'hall')).min(1).default(['hall']),
      })
      .optional(),
  })
  .prefault({});

/** The web pages (docs/CONFIG.md, "web"): how the hall display writes numbers and paces calls. */
export const Web = z
  .strictObject({
    /** Digits on the pages: arabic (٠١٢٣) or latin (0123). */
    digits: z.enum(['arabic', 'latin'], { error: 'must be arabic or latin' }).default('arabic'),
    /** Each new call stays highlighted on the hall display at least this long, so calls made together are shown one after another. */
    minShowMs: z.number().int().min(500).max(30_000).default(3000),
    /** Recent calls listed on the hall display besides the current one per window. */
    recent: z.number().int().min(0).max(16).default(8),
  })
  .prefault({});

export const Forward = z
  .strictObject({
    webhook: Webhook.optional(),
    /** The event log to an upstream MQTT broker (a governorate's Mosquitto or EMQX cluster), and commands back over it. */
    mqtt: z
      .strictObject({
        url: z.string().regex(/^mqtts?:\/\/[^/]+$/, { error: 'must be mqtt://host:port or mqtts://host:port' }),
        /** Default: qhub-<center id>. */
        clientId: z.string().min(1).max(64).optional(),
        username: z.string().min(1).optional(),
        password: Secret.optional(),
        /** TLS: the upstream's CA, and this hub's client certificate and key (PEM files). */
        ca: z.string().min(1).optional(),
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        /** Topics: <prefix>/events, <prefix>/status (retained; the hub's will), <prefix>/commands, <prefix>/replies. Default qhub/centers/<center id>. */
        prefix: z.string().min(1).optional(),
        batch: z.number().int().min(1).max(5000).default(200),
      })
      .optional(),
    /** Commands from the backend (POST /api/v1/commands), with this bearer token. */
    inbound: z.strictObject({ token: Secret }).optional(),
    /** Delivered events are kept this many days (reports), then deleted; undelivered ones never are. */
    keepDays: z.number().int().min(1).max(3650).default(30),
    /** /health turns "degraded" when this many events wait, or the oldest waits this long. */
    alert: z
      .strictObject({
        backlog: z.number().int().min(1).default(10_000),
        oldestMinutes: z.number().min(1).default(30),
      })
      .prefault({}),
  })
  .meta(RESTART)
  .prefault({});

/** Reports written on a schedule (docs/REPORTS.md); `qhub report` works without this section. */
export const Reports = z
  .strictObject({
    /** Where scheduled reports go; relative to the data directory. */
    folder: z.string().min(1, { error: 'must be a folder path, e.g. reports' }).default('reports'),
    /** The day's report (CSV and HTML in each center language), written at `at`. */
    daily: z.boolean().default(false),
    /** The ISO week's report (the manager's weekly copy), written on Sunday at `at` (the week's last day). */
    weekly: z.boolean().default(false),
    /** Local time the scheduled reports are written; default one hour after center.day.closes. */
    at: clock('report time').optional(),
  })
  .prefault({});

/** Backups of the event store (daemon/backup/, docs/OPERATIONS.md). */
export const Backup = z
  .strictObject({
    /** Where backups go; relative to the data directory. Default: <data directory>/backups. */
    folder: z.string().min(1).optional(),
    /** When, as a cron line in the center's time zone (5 fields, or 6 with seconds first). Default: Fridays 03:30. */
    schedule: z
      .string()
      .refine((s) => validCron(s), { error: 'must be a cron line "minute hour day-of-month month day-of-week", e.g. "30 3 * * 5" (Fridays at 03:30)' })
      .default('30 3 * * 5'),
    /** How many backups are kept in the folder; older ones are deleted. */
    keep: z.number().int().min(1).max(1000).default(8),
    /** false: no scheduled backups (qhub backup still works). */
    enabled: z.boolean().default(true),
  })
  .prefault({});

function duplicates<T>(items: T[]): Map<T, number[]> {
  const seen = new Map<T, number[]>();
  items.forEach((v, i) => {
    // A missing value is reported as missing, not as a duplicate of another missing one.
    if (v !== undefined && v !== null) seen.set(v, [...(seen.get(v) ?? []), i]);
  });
  return new Map([...seen].filter(([, idx]) => idx.length > 1));
}

export const CenterFile = z
  .strictObject({
    version: z.literal(CONFIG_VERSION, {
      error: `must be ${CONFIG_VERSION}: this qhub reads only config version ${CONFIG_VERSION} (see docs/CONFIG.md)`,
    }),
    center: Center,
    queue: Queue,
    services: z.array(Service).min(1, { error: 'must list at least one service' }),
    windows: z.array(Window).min(1, { error: 'must list at least one window' }),
    devices: z.array(Device).default([]),
    /** A YAML file (relative to this one) mapping device ids to secrets. */
    secrets: z.string().min(1).optional(),
    hub: Hub,
    forward: Forward,
    voice: Voice,
    reports: Reports,
    alerts: Alerts,
    fallbacks: Fallbacks,
    selftest: Selftest,
    backup: Backup,
    web: Web,
  })
  .superRefine(crossCheck, { when: () => true });

type Loose = Record<string, any>;
const list = (x: unknown): Loose[] => (Array.isArray(x) ? x.map((v) => (v && typeof v === 'object' ? v : {})) : []);

/**
 * Checks between sections (a window's services exist, ids are unique, ...).
 * Runs even when parts of the file are invalid, so a technician sees every
 * problem in one pass; it therefore reads the data defensively.
 */
function crossCheck(cfg: Loose, ctx: z.RefinementCtx): void {
  if (!cfg || typeof cfg !== 'object') return; // reported as the wrong type already
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message, input: undefined });
  const services = list(cfg.services);
  const windows = list(cfg.windows);
  const devices = list(cfg.devices);
  const users = list(cfg.hub?.users);
  const serviceIds = new Set(services.map((s) => s.id).filter((v): v is string => typeof v === 'string'));
  const windowNumbers = new Set(windows.map((w) => w.number).filter((v): v is number => Number.isInteger(v)));
  const zones = new Set(windows.map((w) => w.zone ?? 'hall').filter((v): v is string => typeof v === 'string'));
  // While a window's number or zone is itself wrong (and reported), "does not exist" about it would only mislead.
  const numbersKnown = windows.every((w) => Number.isInteger(w.number));
  const zonesKnown = windows.every((w) => w.zone === undefined || typeof w.zone === 'string');
  const oneOf = (xs: Iterable<unknown>) => [...xs].join(', ') || '(none defined)';

  for (const [sid, idx] of duplicates(services.map((s) => s.id)))
    for (const i of idx.slice(1)) issue(['services', i, 'id'], `"${sid}" is used by two services: give each service its own id`);
  for (const [p, idx] of duplicates(services.map((s) => s.prefix)))
    for (const i of idx.slice(1))
      issue(['services', i, 'prefix'], `prefix "${p}" is already used by service "${services[idx[0]!]!.id}": give each service its own prefix`);
  services.forEach((s, i) => {
    // Only when both are otherwise valid: a last of 0 is already "must be 1 or more".
    if (Number.isInteger(s.first) && Number.isInteger(s.last) && s.first >= 0 && s.last >= 1 && s.first >= s.last)
      issue(['services', i, 'last'], `must be greater than first (${s.first}): numbers run from first to last, then wrap`);
  });

  for (const [n, idx] of duplicates(windows.map((w) => w.number)))
    for (const i of idx.slice(1)) issue(['windows', i, 'number'], `window ${n} is defined twice: give each window its own number`);
  windows.forEach((w, i) => {
    const ws: unknown[] = Array.isArray(w.services) ? w.services : [];
    ws.forEach((sid, j) => {
      if (typeof sid === 'string' && !serviceIds.has(sid))
        issue(['windows', i, 'services', j], `service "${sid}" does not exist: use one of ${oneOf(serviceIds)}`);
    });
    for (const [sid, idx] of duplicates(ws))
      for (const j of idx.slice(1)) issue(['windows', i, 'services', j], `service "${String(sid)}" is listed twice: list it once`);
  });
  services.forEach((s, i) => {
    if (typeof s.id === 'string' && windows.length && !windows.some((w) => Array.isArray(w.services) && w.services.includes(s.id)))
      issue(['services', i, 'id'], `no window serves "${s.id}": add it to a window's services, or its tickets wait forever`);
  });

  for (const [did, idx] of duplicates(devices.map((d) => d.id)))
    for (const i of idx.slice(1)) issue(['devices', i, 'id'], `"${did}" is used by two devices: give each device its own id`);
  const userNames = new Set(users.map((u) => u.name));
  for (const [name, idx] of duplicates(users.map((u) => u.name)))
    for (const i of idx.slice(1)) issue(['hub', 'users', i, 'name'], `user "${String(name)}" is defined twice: give each person one entry`);
  users.forEach((u, i) => {
    if (u.role === 'clerk' && !Array.isArray(u.windows)) issue(['hub', 'users', i], 'a clerk must be bound to windows: windows: [2] (the windows this person may work)');
    if (u.role !== 'clerk' && u.windows !== undefined) issue(['hub', 'users', i, 'windows'], `only a clerk is bound to windows; a ${String(u.role)} may act on every window its role allows: remove windows`);
    if (Array.isArray(u.windows) && numbersKnown)
      u.windows.forEach((w: unknown, j: number) => {
        if (typeof w === 'number' && !windowNumbers.has(w)) issue(['hub', 'users', i, 'windows', j], `window ${w} does not exist: use one of ${oneOf(windowNumbers)}`);
      });
  });
  devices.forEach((d, i) => {
    if (typeof d.id !== 'string') return;
    if (userNames.has(d.id)) issue(['devices', i, 'id'], `"${d.id}" is also a hub user name: device ids and user names must differ`);
    if (d.id === 'hub') issue(['devices', i, 'id'], `"hub" is reserved for the hub itself: choose another id`);
    const b: Loose = d.bind && typeof d.bind === 'object' ? d.bind : {};
    if (typeof b.window === 'number' && numbersKnown && !windowNumbers.has(b.window))
      issue(['devices', i, 'bind', 'window'], `window ${b.window} does not exist: use one of ${oneOf(windowNumbers)}`);
    (Array.isArray(b.services) ? b.services : []).forEach((sid: unknown, j: number) => {
      if (typeof sid === 'string' && !serviceIds.has(sid))
        issue(['devices', i, 'bind', 'services', j], `service "${sid}" does not exist: use one of ${oneOf(serviceIds)}`);
    });
    if (typeof b.zone === 'string' && zonesKnown && !zones.has(b.zone))
      issue(['devices', i, 'bind', 'zone'], `hall zone "${b.zone}" has no window: use one of ${oneOf(zones)}`);
    const need: Record<string, string> = { keypad: 'window', display: 'window', dispenser: 'services' };
    const key = typeof d.kind === 'string' && Object.hasOwn(need, d.kind) ? need[d.kind] : undefined;
    if (key && b[key] === undefined)
      issue(['devices', i, 'bind'], `a ${d.kind} must be bound to ${key === 'window' ? 'a window: bind: {window: N}' : 'its services: bind: {services: [...]}'}`);
    if ((d.kind === 'board' || d.kind === 'speaker') && b.zone === undefined && b.window === undefined)
      issue(['devices', i, 'bind'], `a ${d.kind} must be bound to a hall zone (bind: {zone: hall}) or a window`);
    if (d.fallback !== undefined) {
      const other = devices.find((x) => x.id === d.fallback);
      if (d.kind !== 'dispenser') issue(['devices', i, 'fallback'], `only a dispenser has a fallback (the dispenser that issues its services while it is down): remove it from this ${String(d.kind)}`);
      else if (d.fallback === d.id) issue(['devices', i, 'fallback'], 'a dispenser cannot cover itself: name another dispenser');
      else if (!other) issue(['devices', i, 'fallback'], `device "${String(d.fallback)}" does not exist: name a dispenser of this file`);
      else if (other.kind !== 'dispenser') issue(['devices', i, 'fallback'], `"${String(d.fallback)}" is a ${String(other.kind)}: name a dispenser`);
    }
    const t: Loose = d.transport && typeof d.transport === 'object' ? d.transport : {};
    if (t.type === 'firmata') {
      // Pins 0 and 1 are the Arduino's USB serial (Firmata itself); one pin cannot be two things.
      const pins: [string, unknown][] = [...(Array.isArray(t.buttons) ? t.buttons.map((p: unknown, j: number) => [`buttons[${j}]`, p] as [string, unknown]) : []), ['led', t.led], ['buzzer', t.buzzer]];
      const seen = new Map<number, string>();
      for (const [name, p] of pins) {
        if (typeof p !== 'number') continue;
        const at = ['devices', i, 'transport', ...(name.startsWith('buttons') ? ['buttons', Number(name.slice(8, -1))] : [name])];
        if (p < 2) issue(at, `pin ${p} is the Arduino's serial line (pins 0 and 1 carry Firmata): use pin 2 or above`);
        else if (seen.has(p)) issue(at, `pin ${p} is already ${seen.get(p)}: give each button, the LED and the buzzer its own pin`);
        else seen.set(p, name);
      }
    }
    const mqtt = !d.transport || d.transport.type === 'mqtt';
    if (d.secret === undefined && cfg.secrets === undefined && mqtt)
      issue(['devices', i], `has no secret: add secret: ..., or a top-level secrets: file that lists "${d.id}"`);
  });
}

/** The config after defaults, as the rest of qhub sees it. */
export type CenterConfig = z.output<typeof CenterFile>;
export type CenterConfigInput = z.input<typeof CenterFile>;
export type ServiceConfig = CenterConfig['services'][number];
export type WindowConfig = CenterConfig['windows'][number];
export type DeviceConfig = CenterConfig['devices'][number];
export type QueueConfig = CenterConfig['queue'];
export type DeviceKind = (typeof DEVICE_KINDS)[number];
