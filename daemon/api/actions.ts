/**
 * The command table: every action a person (or the backend, or the
 * technician's command line) can take on the hub, declared once — its name,
 * its input schema, the roles allowed, and what it does (for writes: the
 * engine command it becomes). The HTTP API (`/api/v1/<name>`), the local
 * socket and docs/API.md are all made from this table; nothing else decides
 * who may do what.
 */
import { z } from 'zod';
import type { CenterConfig } from '../../config/schema.js';
import type { OpenAlert } from '../../contract/bus.js';
import type { ActionResult, ActiveFallback, BackupDone, DevicePresence, Presence, ReloadResult, ReportsPort, SelftestReport } from '../../contract/ports.js';
import type { Principal, Role, SystemRole } from '../../contract/roles.js';
import type { CoreResult } from '../../contract/ports.js';
import type { Engine } from '../engine/engine.js';
import { ERROR_CODES, type Command, type ErrorCode, type Ticket } from '../../contract/queue.js';

/** What an action is handed: narrow ports, never the hub. */
export interface ActionPorts {
  config: CenterConfig;
  submit(cmd: Command): Promise<CoreResult>;
  /** The engine's current state (read only). */
  engine(): Engine;
  seq(): number;
  presence: Presence;
  /** Sends a ticket to a dispenser's printer; the device it went to, or why not. */
  print(ticket: Ticket, device?: string): { ok: true; device: string } | { ok: false; code: 'unknown_device' | 'no_printer' | 'offline'; message: string };
  now(): number;
  /** The alerts open now. */
  alerts(): OpenAlert[];
  /** The fallbacks the hub applies now (a device down). */
  fallbacks?(): ActiveFallback[];
  /** Runs the morning check of every device (test patterns, the chime, printers' paper). */
  selftest?(): Promise<SelftestReport>;
  /** Re-reads the config file and applies what can change live. */
  reload(): Promise<ReloadResult>;
  /** Today's figures and rendered reports (the reports module); absent in a hub without it. */
  reports?: ReportsPort;
  /** A backup taken by the running hub, into `out` or the backup folder. */
  backup?(out?: string): Promise<BackupDone>;
  /** People with a session now (browser or bearer), and how long since each last used it. */
  sessions?(): { name: string; role: string; windows?: readonly number[]; idleMs: number }[];
}

/**
 * A clerk counts as logged in at a window while a session of theirs that
 * names the window (hub.users[].windows) was used within this time: the
 * soft keypad reads its window every second, so an open keypad page keeps
 * its clerk here; a closed one drops out after this (docs/WEB.md).
 */
export const PRESENT_MS = 2 * 60_000;

export type { ActionResult };

export type AnyRole = Role | SystemRole;

export interface Action<S extends z.ZodType = z.ZodType> {
  name: string;
  kind: 'read' | 'write';
  /** One line for docs/API.md and `GET /api/v1`. */
  summary: string;
  input: S;
  roles: readonly AnyRole[];
  /** The window the action concerns: a clerk must be bound to it. */
  window?: (input: z.output<S>, p: ActionPorts) => number | undefined;
  run(input: z.output<S>, p: ActionPorts, who: Principal): Promise<ActionResult> | ActionResult;
  /** A sample input for docs/API.md (captured against the example center). */
  example?: z.input<S>;
}

const define = <S extends z.ZodType>(a: Action<S>): Action => a as unknown as Action;

/** HTTP status of an engine refusal. */
export const STATUS: Record<ErrorCode, number> = {
  unknown_service: 404,
  unknown_window: 404,
  unknown_ticket: 404,
  no_priority: 422,
  numbers_exhausted: 409,
  window_closed: 409,
  window_paused: 409,
  window_busy: 409,
  window_idle: 409,
  not_served_here: 409,
  wrong_state: 409,
  grace_expired: 409,
  same_service: 409,
  invalid_command: 422,
  storage_failed: 503,
};

// ------------------------------------------------------------------ inputs

/** An optional request id: a retried request with the same id is answered from the first result and changes nothing. */
const reqId = z.string().min(1).max(64).optional().describe('retry id: the same id again returns the first answer and changes nothing');
const windowNo = z.coerce.number().int().min(1).max(999).describe('window number');
const ticketRef = z.string().min(1).max(32).describe('ticket number (A042) or id');
const serviceId = z.string().min(1).max(48).describe('service id');

const W = <T extends z.ZodRawShape>(shape: T) => z.strictObject({ window: windowNo, id: reqId, ...shape });

const ALL_STAFF: readonly AnyRole[] = ['supervisor', 'technician'];
/** The backend's commands: its token, and the technician (to repair a link by hand). */
const BACKEND: readonly AnyRole[] = ['backend', 'technician'];
const backendId = z.string().min(1).max(64).describe('the command’s id: the same id again returns the first answer');
const requestIdIn = z.string().min(1).max(64);
const inquiryIn = z.string().min(1).max(24);

/** The first service of the first window of a kind: where "fees set" and "ready" send a citizen by default. */
function serviceOfKind(config: CenterConfig, kind: string): string | undefined {
  return config.windows.find((w) => w.kind === kind)?.services[0];
}
const WINDOW_ROLES: readonly AnyRole[] = ['supervisor', 'clerk', 'technician'];
const READERS: readonly AnyRole[] = ['supervisor', 'clerk', 'reception', 'viewer', 'technician'];

// ------------------------------------------------------------------ views for people

function ticketOut(t: Ticket, e: Engine, now: number) {
  return {
    id: t.id,
    number: t.number,
    service: t.service,
    status: t.status,
    ...(t.priority ? { priority: t.priority } : {}),
    ...(t.window !== undefined ? { window: t.window } : {}),
    issuedAt: new Date(t.issuedAt).toISOString(),
    ...(t.calledAt ? { calledAt: new Date(t.calledAt).toISOString() } : {}),
    ...(t.status === 'waiting' ? { waitingMin: Math.round((now - t.enqueuedAt) / 6000) / 10, ahead: aheadOf(t, e) } : {}),
    ...(t.requestId ? { requestId: t.requestId } : {}),
    ...(t.inquiry ? { inquiry: t.inquiry } : {}),
    ...(t.device ? { device: t.device } : {}),
    expectedWaitMin: t.expectedWaitMin,
  };
}

function aheadOf(t: Ticket, e: Engine): number {
  const list = e.waiting(t.service);
  const i = list.findIndex((x) => x.id === t.id);
  return i < 0 ? 0 : i;
}

function servicesOf(e: Engine, _config: CenterConfig, n: number): string[] {
  return e.servicesOf(n);
}

function windowOut(n: number, p: ActionPorts) {
  const e = p.engine();
  const cfg = p.config.windows.find((w) => w.number === n)!;
  const w = e.window(n);
  const cur = w.current ? e.state.tickets[w.current] : undefined;
  return {
    number: n,
    kind: cfg.kind,
    ...(cfg.name ? { name: cfg.name } : {}),
    zone: cfg.zone,
    status: w.status,
    ...(w.reason ? { reason: w.reason } : {}),
    services: servicesOf(e, p.config, n),
    current: cur ? { number: cur.number, id: cur.id, service: cur.service, status: cur.status, recalls: cur.recalls } : null,
    waiting: servicesOf(e, p.config, n).reduce((a, s) => a + e.waitingCount(s), 0),
    served: w.served,
    loggedIn: clerksAt(n, p),
  };
}

/** The clerks logged in at a window now (PRESENT_MS). */
function clerksAt(n: number, p: ActionPorts): string[] {
  const names = new Set<string>();
  for (const s of p.sessions?.() ?? []) if (s.role === 'clerk' && s.windows?.includes(n) && s.idleMs <= PRESENT_MS) names.add(s.name);
  return [...names].sort();
}

function queueOut(s: CenterConfig['services'][number], p: ActionPorts) {
  const e = p.engine();
  const now = p.now();
  const list = e.waiting(s.id);
  const oldest = list.reduce((m, t) => Math.min(m, t.enqueuedAt), Infinity);
  return {
    service: s.id,
    name: s.name,
    prefix: s.prefix,
    waiting: list.length,
    longestWaitMin: list.length ? Math.round((now - oldest) / 6000) / 10 : 0,
    next: list.slice(0, 5).map((t) => t.number),
    windows: p.config.windows.filter((w) => servicesOf(e, p.config, w.number).includes(s.id)).map((w) => ({ number: w.number, status: e.window(w.number).status })),
  };
}

/** Runs an engine command as this principal and answers with what people need to see. */
async function exec(p: ActionPorts, who: Principal, cmd: Command, id: string | undefined, window?: number): Promise<ActionResult> {
  const r = await p.submit({ ...cmd, source: who.name, ...(id ? { id } : {}) });
  if (!r.ok) return { ok: false, status: STATUS[r.error.code] ?? 422, error: r.error.code, message: r.error.message };
  return {
    ok: true,
    result: {
      duplicate: r.duplicate,
      // null: nothing new was written (a repeated id).
      seq: r.events.at(-1)?.seq ?? null,
      events: r.events.map((e) => e.type),
      ...(r.ticket ? { ticket: ticketOut(r.ticket, p.engine(), p.now()) } : {}),
      ...(window !== undefined ? { window: windowOut(window, p) } : {}),
    },
  };
}

const notFound = (error: string, message: string): ActionResult => ({ ok: false, status: 404, error, message });

/** Window actions: the same for every window command (a clerk's window checked by the table's `window`). */
function windowAction(name: string, summary: string, toCmd: (w: number) => Command, example?: Record<string, unknown>): Action {
  return define({
    name: `windows.${name}`,
    kind: 'write',
    summary,
    input: W({}),
    roles: WINDOW_ROLES,
    window: (i) => i.window,
    run: (i, p, who) => exec(p, who, toCmd(i.window), i.id, i.window),
    example: { window: 2, ...example },
  });
}

// ------------------------------------------------------------------ the table

export const ACTIONS: readonly Action[] = [
  // Reads
  define({
    name: 'status',
    kind: 'read',
    summary: 'the hub at a glance: business day, devices online, people waiting, windows open',
    input: z.strictObject({}),
    roles: READERS,
    run: (_i, p) => {
      const e = p.engine();
      const devices = p.presence.list();
      const windows = p.config.windows.map((w) => e.window(w.number).status);
      return {
        ok: true,
        result: {
          center: p.config.center.id,
          name: p.config.center.name,
          day: e.state.day,
          seq: p.seq(),
          time: new Date(p.now()).toISOString(),
          waiting: p.config.services.reduce((a, s) => a + e.waitingCount(s.id), 0),
          windows: { open: windows.filter((s) => s === 'open').length, paused: windows.filter((s) => s === 'paused').length, closed: windows.filter((s) => s === 'closed').length },
          devices: { online: devices.filter((d) => d.online).length, offline: devices.filter((d) => !d.online).map((d) => d.id) },
          fallbacks: p.fallbacks?.() ?? [],
        },
      };
    },
  }),
  define({
    name: 'windows',
    kind: 'read',
    summary: 'every window: open, paused (why) or closed, the citizen at it, the services it calls, how many wait, served today',
    input: z.strictObject({}),
    roles: READERS,
    run: (_i, p) => ({ ok: true, result: p.config.windows.map((w) => windowOut(w.number, p)) }),
  }),
  define({
    name: 'window',
    kind: 'read',
    summary: 'one window',
    input: z.strictObject({ window: windowNo }),
    roles: READERS,
    run: (i, p) => (p.config.windows.some((w) => w.number === i.window) ? { ok: true, result: windowOut(i.window, p) } : notFound('unknown_window', `no window ${i.window}`)),
    example: { window: 2 },
  }),
  define({
    name: 'queues',
    kind: 'read',
    summary: 'every service: how many wait, the longest wait, the next numbers, the windows calling it',
    input: z.strictObject({}),
    roles: READERS,
    run: (_i, p) => ({ ok: true, result: p.config.services.map((s) => queueOut(s, p)) }),
  }),
  define({
    name: 'ticket',
    kind: 'read',
    summary: 'one ticket of today, by number or id',
    input: z.strictObject({ ticket: ticketRef }),
    roles: READERS,
    run: (i, p) => {
      const e = p.engine();
      const t = e.ticket(i.ticket);
      return t ? { ok: true, result: ticketOut(t, e, p.now()) } : notFound('unknown_ticket', `no ticket "${i.ticket}" today`);
    },
    example: { ticket: 'A001' },
  }),
  define({
    name: 'devices',
    kind: 'read',
    summary: 'every configured device: online or not, since when and why, model, firmware, faults',
    input: z.strictObject({}),
    roles: READERS,
    run: (_i, p): ActionResult => ({ ok: true, result: p.presence.list() satisfies DevicePresence[] }),
  }),

  define({
    name: 'alerts',
    kind: 'read',
    summary: 'the alerts open now: devices offline, flapping or faulty in opening hours, queues over their thresholds',
    input: z.strictObject({}),
    roles: READERS,
    run: (_i, p) => ({ ok: true, result: p.alerts() }),
  }),
  define({
    name: 'hub.selftest',
    kind: 'write',
    summary: 'the morning check: every board, window display and keypad shows a test pattern, every speaker plays the chime, every printer reports its paper; the report names what did not answer (kept in the log as selftest.done)',
    input: z.strictObject({}),
    roles: ['supervisor', 'technician'],
    run: async (_i, p) => (p.selftest ? { ok: true, result: await p.selftest() } : { ok: false, status: 503, error: 'unavailable', message: 'this hub has no self-test' }),
  }),
  define({
    name: 'today',
    kind: 'read',
    summary: 'today’s figures so far, as the day’s report computes them (docs/REPORTS.md): per service the service level (share called within its target wait), mean and longest wait; per window served and mean service time; the mean wait by hour',
    input: z.strictObject({}),
    roles: ['supervisor', 'viewer', 'technician'],
    run: (_i, p) => (p.reports ? { ok: true, result: p.reports.today() } : { ok: false, status: 503, error: 'no_reports', message: 'this hub runs without its reports module' }),
  }),
  define({
    name: 'report',
    kind: 'read',
    summary: 'a day’s or an ISO week’s report, as `qhub report` writes it: HTML to read in the browser, or CSV (default: today, HTML, Arabic)',
    input: z
      .strictObject({
        day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date: 2026-11-24').optional(),
        week: z.string().regex(/^\d{4}-W\d{2}$/, 'an ISO week: 2026-W48').optional(),
        format: z.enum(['html', 'csv']).default('html'),
        lang: z.enum(['ar', 'en']).default('ar'),
      })
      .refine((i) => !(i.day && i.week), { message: 'give "day" or "week", not both' }),
    roles: ['supervisor', 'technician'],
    run: (i, p) => {
      if (!p.reports) return { ok: false, status: 503, error: 'no_reports', message: 'this hub runs without its reports module' };
      const what = i.week ? { week: i.week } : { day: i.day ?? p.reports.today().day };
      let text: string;
      try {
        text = p.reports.render(what, i.format, i.lang);
      } catch (e) {
        return { ok: false, status: 400, error: 'bad_input', message: (e as Error).message };
      }
      const stem = 'week' in what ? what.week : what.day;
      return {
        ok: true,
        result: text,
        file: { type: i.format === 'csv' ? 'text/csv; charset=utf-8' : 'text/html; charset=utf-8', name: `qhub-${stem}.${i.lang}.${i.format}` },
      };
    },
    example: { day: '2026-11-24', format: 'csv', lang: 'en' },
  }),
  define({
    name: 'hub.backup',
    kind: 'write',
    summary: 'a checked backup of the event store, taken by the running hub (SQLite’s online backup), into `out` (an absolute path on the hub) or the backup folder (rotated)',
    input: z.strictObject({ out: z.string().min(2).max(1024).refine((x) => x.startsWith('/'), 'an absolute path').optional() }),
    roles: ['technician'],
    run: async (i, p) => {
      if (!p.backup) return { ok: false, status: 503, error: 'no_backup', message: 'this hub runs without its backup module' };
      try {
        return { ok: true, result: await p.backup(i.out) };
      } catch (e) {
        return { ok: false, status: 500, error: 'backup_failed', message: (e as Error).message };
      }
    },
  }),
  define({
    name: 'hub.reload',
    kind: 'write',
    summary: 're-read the config file: devices, windows, services, users and voice settings change without a restart; a bad file is refused and the running config stays',
    input: z.strictObject({}),
    roles: ['supervisor', 'technician'],
    run: async (_i, p) => {
      const r = await p.reload();
      if (r.problems) return { ok: false, status: 422, error: 'bad_config', message: r.problems.join('\n') };
      return { ok: true, result: r };
    },
  }),

  // Windows
  windowAction('open', 'open the window', (window) => ({ type: 'open', window })),
  define({
    name: 'windows.pause',
    kind: 'write',
    summary: 'pause the window, with a reason (break, prayer, system down...)',
    input: W({ reason: z.string().trim().min(1).max(120).default('break') }),
    roles: WINDOW_ROLES,
    window: (i) => i.window,
    run: (i, p, who) => exec(p, who, { type: 'pause', window: i.window, reason: i.reason }, i.id, i.window),
    example: { window: 2, reason: 'prayer' },
  }),
  windowAction('close', 'close the window', (window) => ({ type: 'close', window })),
  windowAction('next', 'call the next citizen (ends the current visit as queue.busyNext says)', (window) => ({ type: 'next', window })),
  windowAction('recall', 'call the current citizen again', (window) => ({ type: 'recall', window })),
  windowAction('start', 'the called citizen arrived: service starts', (window) => ({ type: 'start', window })),
  windowAction('done', 'the visit is finished', (window) => ({ type: 'finish', window })),
  windowAction('noShow', 'the called citizen did not come', (window) => ({ type: 'noShow', window })),
  windowAction('park', 'set the current citizen aside (documents missing) to resume later', (window) => ({ type: 'park', window })),
  define({
    name: 'windows.transfer',
    kind: 'write',
    summary: 'send the current citizen to another service’s queue',
    input: W({ service: serviceId, position: z.enum(['front', 'back']).optional() }),
    roles: WINDOW_ROLES,
    window: (i) => i.window,
    run: (i, p, who) => exec(p, who, { type: 'transfer', window: i.window, service: i.service, ...(i.position ? { position: i.position } : {}) }, i.id, i.window),
    example: { window: 2, service: 'treasury' },
  }),
  define({
    name: 'windows.resume',
    kind: 'write',
    summary: 'call a parked ticket back to this window',
    input: W({ ticket: ticketRef }),
    roles: WINDOW_ROLES,
    window: (i) => i.window,
    run: (i, p, who) => exec(p, who, { type: 'resume', window: i.window, ticket: i.ticket }, i.id, i.window),
    example: { window: 2, ticket: 'A001' },
  }),
  define({
    name: 'windows.call',
    kind: 'write',
    summary: 'call a given waiting ticket to this window',
    input: W({ ticket: ticketRef }),
    roles: WINDOW_ROLES,
    window: (i) => i.window,
    run: (i, p, who) => exec(p, who, { type: 'callTicket', window: i.window, ticket: i.ticket }, i.id, i.window),
    example: { window: 2, ticket: 'A002' },
  }),
  define({
    name: 'windows.callInquiry',
    kind: 'write',
    summary: 'call a citizen by inquiry number (delivery windows)',
    input: W({ inquiry: z.string().min(1).max(24) }),
    roles: WINDOW_ROLES,
    window: (i) => i.window,
    run: (i, p, who) => exec(p, who, { type: 'callInquiry', window: i.window, inquiry: i.inquiry }, i.id, i.window),
    example: { window: 5, inquiry: '2026-7781' },
  }),
  define({
    name: 'windows.assign',
    kind: 'write',
    summary: 'which services the window calls, in order (covers an absent colleague); kept across restarts and days',
    input: W({ services: z.array(serviceId).min(1).max(32) }),
    roles: ALL_STAFF,
    run: (i, p, who) => exec(p, who, { type: 'assign', window: i.window, services: i.services }, i.id, i.window),
    example: { window: 2, services: ['treasury', 'intake'] },
  }),

  // The request-tracking backend (POST /api/v1/commands with its token, or the upstream broker's commands topic)
  define({
    name: 'backend.attach',
    kind: 'write',
    summary: 'the backend links a ticket to its request: request id and/or inquiry number',
    input: z.strictObject({ id: backendId, ticket: ticketRef, requestId: requestIdIn.optional(), inquiry: inquiryIn.optional() }),
    roles: BACKEND,
    run: (i, p, who) => exec(p, who, { type: 'attach', ticket: i.ticket, ...(i.requestId ? { requestId: i.requestId } : {}), ...(i.inquiry ? { inquiry: i.inquiry } : {}) }, i.id),
    example: { id: 'att-77', ticket: 'A001', requestId: 'REQ-2026-77' },
  }),
  define({
    name: 'backend.feesSet',
    kind: 'write',
    summary: 'fees are set: the citizen now waits for the treasury (the first treasury window’s first service unless `service` says)',
    input: z
      .strictObject({ id: backendId, ticket: ticketRef.optional(), requestId: requestIdIn.optional(), inquiry: inquiryIn.optional(), service: serviceId.optional() })
      .refine((c) => [c.ticket, c.requestId, c.inquiry].filter((x) => x !== undefined).length === 1, { message: 'give exactly one of "ticket", "requestId" or "inquiry"' }),
    roles: BACKEND,
    run: (i, p, who) => {
      const s = i.service ?? serviceOfKind(p.config, 'treasury');
      if (!s) return { ok: false, status: 422, error: 'invalid_command', message: 'this center has no treasury window: give "service"' };
      return exec(p, who, { type: 'requeue', service: s, ...(i.ticket ? { ticket: i.ticket } : {}), ...(i.requestId ? { requestId: i.requestId } : {}), ...(i.inquiry ? { inquiry: i.inquiry } : {}) }, i.id);
    },
    example: { id: 'fees-77', requestId: 'REQ-2026-77' },
  }),
  define({
    name: 'backend.ready',
    kind: 'write',
    summary: 'the request is done: a delivery window will call the citizen (today’s active ticket keeps its number; otherwise the inquiry number is called)',
    input: z.strictObject({ id: backendId, inquiry: inquiryIn, requestId: requestIdIn.optional(), service: serviceId.optional() }),
    roles: BACKEND,
    run: (i, p, who) => {
      const s = i.service ?? serviceOfKind(p.config, 'delivery');
      if (!s) return { ok: false, status: 422, error: 'invalid_command', message: 'this center has no delivery window: give "service"' };
      return exec(p, who, { type: 'enqueueInquiry', service: s, inquiry: i.inquiry, ...(i.requestId ? { requestId: i.requestId } : {}) }, i.id);
    },
    example: { id: 'ready-12', inquiry: '2026-88412', requestId: 'REQ-2026-12' },
  }),
  define({
    name: 'backend.cancel',
    kind: 'write',
    summary: 'the backend cancels a ticket',
    input: z.strictObject({ id: backendId, ticket: ticketRef, reason: z.string().max(120).optional() }),
    roles: BACKEND,
    run: (i, p, who) => exec(p, who, { type: 'cancel', ticket: i.ticket, ...(i.reason ? { reason: i.reason } : {}) }, i.id),
    example: { id: 'cancel-3', ticket: 'A003', reason: 'duplicate request' },
  }),

  // Tickets
  define({
    name: 'tickets.return',
    kind: 'write',
    summary: 'a no-show came back within the grace time: back into the queue',
    input: z.strictObject({ ticket: ticketRef, id: reqId }),
    roles: WINDOW_ROLES,
    // A clerk may return only a no-show of their own windows.
    window: (i, p) => p.engine().ticket(i.ticket)?.window,
    run: (i, p, who) => exec(p, who, { type: 'returnNoShow', ticket: i.ticket }, i.id),
    example: { ticket: 'A001' },
  }),
  define({
    name: 'tickets.issue',
    kind: 'write',
    summary: 'issue a ticket on a citizen’s behalf (a dispenser is down); optionally print it on a dispenser',
    input: z.strictObject({ service: serviceId, priority: z.string().min(1).max(32).optional(), print: z.string().min(1).max(48).optional().describe('dispenser id to print on'), id: reqId }),
    roles: ['supervisor', 'reception', 'technician'],
    run: async (i, p, who) => {
      const r = await exec(p, who, { type: 'issue', service: i.service, ...(i.priority ? { priority: i.priority } : {}) }, i.id);
      if (!r.ok || !i.print) return r;
      const t = p.engine().ticket((r.result as { ticket: { id: string } }).ticket.id);
      const printed = t ? p.print(t, i.print) : ({ ok: false, code: 'offline', message: 'the ticket is no longer known' } as const);
      return { ok: true, result: { ...(r.result as object), printed: printed.ok ? { device: printed.device } : { error: printed.code, message: printed.message } } };
    },
    example: { service: 'intake' },
  }),
  define({
    name: 'tickets.reprint',
    kind: 'write',
    summary: 'print a ticket again (on the dispenser that issued it, or a given one)',
    input: z.strictObject({ ticket: ticketRef, device: z.string().min(1).max(48).optional(), id: reqId }),
    roles: ['supervisor', 'reception', 'technician'],
    run: (i, p) => {
      const t = p.engine().ticket(i.ticket);
      if (!t) return notFound('unknown_ticket', `no ticket "${i.ticket}" today`);
      const r = p.print(t, i.device);
      if (!r.ok) return { ok: false, status: r.code === 'unknown_device' ? 404 : 409, error: r.code, message: r.message };
      return { ok: true, result: { ticket: ticketOut(t, p.engine(), p.now()), device: r.device } };
    },
    example: { ticket: 'A001' },
  }),
  define({
    name: 'tickets.cancel',
    kind: 'write',
    summary: 'cancel a waiting, parked or no-show ticket (recorded with who did it and why)',
    input: z.strictObject({ ticket: ticketRef, reason: z.string().trim().min(1).max(120).default('cancelled by staff'), id: reqId }),
    roles: ALL_STAFF,
    run: (i, p, who) => exec(p, who, { type: 'cancel', ticket: i.ticket, reason: i.reason }, i.id),
    example: { ticket: 'A003', reason: 'left the center' },
  }),
];

export const ACTION_BY_NAME: ReadonlyMap<string, Action> = new Map(ACTIONS.map((a) => [a.name, a]));

/**
 * Whether a principal may run an action with this input: its role, and for
 * a clerk, the window. Returns the refusal, or undefined when allowed.
 */
export function authorize(a: Action, input: unknown, who: Principal, p: ActionPorts): ActionResult | undefined {
  if (!a.roles.includes(who.role))
    return { ok: false, status: 403, error: 'forbidden', message: `a ${who.role} may not ${a.kind === 'read' ? 'read' : 'do'} "${a.name}" (allowed: ${a.roles.join(', ')})` };
  if (who.role === 'clerk' && a.window) {
    const w = a.window(input, p);
    if (w === undefined || !who.windows?.includes(w))
      return { ok: false, status: 403, error: 'forbidden', message: `${who.name} works window${(who.windows?.length ?? 0) > 1 ? 's' : ''} ${who.windows?.join(', ') ?? '(none)'}, not ${w ?? 'this one'}` };
  }
  return undefined;
}

/** Short `path: message` text of a zod error. */
export function describe(e: z.ZodError): string {
  return e.issues
    .slice(0, 4)
    .map((i) => `${i.path.join('.') || 'input'}: ${i.message}`)
    .join('; ');
}

/** Validates, authorizes and runs one action: the one path for HTTP and the socket. */
export async function runAction(name: string, raw: unknown, who: Principal, p: ActionPorts): Promise<ActionResult> {
  const a = ACTION_BY_NAME.get(name);
  if (!a) return { ok: false, status: 404, error: 'unknown_action', message: `no action "${name}": GET /api/v1 lists them` };
  const parsed = a.input.safeParse(raw ?? {});
  if (!parsed.success) return { ok: false, status: 400, error: 'bad_input', message: describe(parsed.error) };
  const refused = authorize(a, parsed.data, who, p);
  if (refused) return refused;
  try {
    return await a.run(parsed.data, p, who);
  } catch (e) {
    return { ok: false, status: 500, error: 'internal', message: (e as Error).message };
  }
}

export { ERROR_CODES };
