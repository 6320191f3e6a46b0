/**
 * The web pages: the login page, the soft keypad, the supervisor dashboard,
 * the reception page and the hall display, served by the hub on the LAN
 * with nothing from the internet (docs/WEB.md).
 *
 * Static files are the bundles `npm run build` writes into dist/web/
 * (web/build.mjs): read into memory at start, served under /static/ by
 * their hashed names with a year's max-age; the pages' HTML is made here
 * (it names the hashed files) and is never cached. Nothing is read from the
 * file system per request, so no URL can reach a file outside the bundle.
 *
 * The hall display is a device of the hub: devices with `transport: {type:
 * web}` (models web-board and web-speaker) are carried by this module, a
 * transport like MQTT. A zone's pages (GET /hall/<zone>) get its boards'
 * views and its speakers' announcements over Server-Sent Events
 * (/hall/<zone>/events), the current view first on every connection; a page
 * says `played` with POST /hall/<zone>/played. A zone's web devices are
 * online while at least one of its pages is connected.
 *
 * Owns: the bundle in memory, the open event streams. May touch: the
 * device links (registers the `web` transport), the bus (listens to
 * `committed` for the waiting counts), the routes.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { CenterConfig, DeviceConfig } from '../../config/schema.js';
import type { DeviceLink, LinkListener, OutMessage, Transport } from '../../contract/devices.js';
import type { HttpRequest, Reply } from '../../contract/ports.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';

type Listener = LinkListener | undefined;
type Link = DeviceLink;

export interface WebContext extends Pick<HubContext, 'config' | 'log' | 'bus' | 'routes' | 'links' | 'version'> {
  /** How many tickets wait for a service now (read from the engine; a narrow function, not the engine). */
  waiting(service: string): number;
  /** Where the built bundle is (default: dist/web next to the compiled daemon). */
  bundleDir?: string;
}

export const PAGES = ['login', 'keypad', 'dashboard', 'reception', 'hall'] as const;
type Page = (typeof PAGES)[number];

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ttf': 'font/ttf',
  '.woff2': 'font/woff2',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

const SECURITY = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Keep-alive comment and the clock's reference, so a page sees a dead stream within a few periods. */
const TICK_MS = 10_000;

interface Client {
  zone: string;
  out: PassThrough;
}

interface Manifest {
  pages: Record<string, string>;
  css: string;
  fonts: string[];
}

export class WebModule implements HubModule, Transport {
  readonly name = 'web';
  readonly types = ['web'] as const;
  private readonly log: Logger;
  private config: CenterConfig;
  private devices: DeviceConfig[] = [];
  private listener?: Listener;
  private readonly files = new Map<string, { bytes: Buffer; type: string }>();
  private manifest?: Manifest;
  private readonly clients = new Set<Client>();
  /** Per web device: the last retained message (a board's view), as an event-stream frame. */
  private readonly retained = new Map<string, string>();
  /** Per zone: the last hall summary sent (the waiting counts). */
  private readonly lastHall = new Map<string, string>();
  private unsubscribe?: () => void;
  private tick?: NodeJS.Timeout;
  private hallTimer?: NodeJS.Timeout;
  private registered = false;
  private readonly stats = { connections: 0, played: 0, sent: 0 };

  constructor(private readonly ctx: WebContext) {
    this.log = ctx.log.child({ mod: 'web' });
    this.config = ctx.config;
  }

  get bundleDir(): string {
    if (this.ctx.bundleDir) return this.ctx.bundleDir;
    // Compiled: dist/daemon/web/module.js → dist/web/. From the sources (tests run the TypeScript): daemon/web/module.ts → dist/web/.
    // Bundled (daemon/bundle.mjs): a file in dist/bundle/ → dist/web/.
    const here = import.meta.url;
    const up = here.endsWith('.ts') ? '../../dist/web/' : here.endsWith('/daemon/web/module.js') ? '../../web/' : '../web/';
    return fileURLToPath(new URL(up, here));
  }

  start(): void {
    this.devices = this.config.devices.filter((d) => d.enabled && d.transport.type === 'web');
    this.load();
    if (!this.registered) {
      this.ctx.links.register(this);
      this.registered = true;
    }
    const r = this.ctx.routes;
    r.route('GET', '/', () => ({ code: 302, body: { location: '/login' }, headers: { location: '/login' } }));
    for (const p of PAGES) if (p !== 'hall') r.route('GET', `/${p}`, () => this.page(p));
    r.routePrefix('GET', '/static/', (req) => this.file(req));
    r.routePrefix('GET', '/hall/', (req) => this.hallGet(req));
    r.routePrefix('POST', '/hall/', (req) => this.hallPost(req));
    this.unsubscribe = this.ctx.bus.on('committed', this.name, () => this.hallSoon());
    this.tick = setInterval(() => this.broadcastTick(), TICK_MS);
    this.tick.unref?.();
    this.log.info({ files: this.files.size, webDevices: this.devices.length }, 'web pages ready');
  }

  stop(): void {
    clearInterval(this.tick);
    clearTimeout(this.hallTimer);
    this.unsubscribe?.();
    for (const c of [...this.clients]) c.out.end();
    this.clients.clear();
  }

  reload(config: CenterConfig): void {
    this.config = config;
    this.devices = config.devices.filter((d) => d.enabled && d.transport.type === 'web');
    this.lastHall.clear();
    for (const zone of this.zones()) this.sendHall(zone);
  }

  health(): ModuleHealth {
    return { ok: !!this.manifest, summary: { web: { pages: this.clients.size } }, detail: { files: this.files.size, ...this.stats } };
  }

  // ------------------------------------------------------------ static files

  /** Reads the built bundle into memory (a few hundred kB of scripts, plus the fonts). */
  private load(): void {
    const dir = this.bundleDir;
    try {
      this.manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    } catch (e) {
      this.log.error({ dir, err: (e as Error).message }, `the web pages are not built (${dir}manifest.json): run "npm run build"; the pages answer 503 until then`);
      return;
    }
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else {
          const ext = name.slice(name.lastIndexOf('.'));
          const type = TYPES[ext];
          if (type) this.files.set(`/static/${relative(join(dir, 'static'), p).split('\\').join('/')}`, { bytes: readFileSync(p), type });
        }
      }
    };
    walk(join(dir, 'static'));
  }

  private file(req: HttpRequest): Reply {
    // Only names the bundle has: a path with "..", %2e%2e or anything else unknown is simply not in the map.
    const f = this.files.get(req.url.pathname);
    if (!f) return { code: 404, body: { error: 'not_found', message: `no file ${req.url.pathname} in the web bundle` } };
    return { code: 200, bytes: f.bytes, type: f.type, cache: 'public, max-age=31536000, immutable', headers: { 'x-content-type-options': 'nosniff' } };
  }

  /** What every page is told before its script runs: the center, its languages, how digits are written. */
  private boot(page: Page, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const c = this.config;
    return { page, center: c.center.name, languages: c.center.languages, digits: c.web.digits, timezone: c.center.timezone, version: this.ctx.version, ...extra };
  }

  private page(page: Page, extra: Record<string, unknown> = {}): Reply {
    const m = this.manifest;
    if (!m) return { code: 503, body: { error: 'not_built', message: 'the web pages are not built: run "npm run build" on the hub' } };
    const boot = JSON.stringify(this.boot(page, extra)).replace(/</g, '\\u003c');
    const title = `${this.config.center.name.ar}`;
    const html = `<!doctype html>
<html dir="rtl" lang="ar">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
${m.fonts.map((f) => `<link rel="preload" href="/static/${f}" as="font" type="font/ttf" crossorigin>`).join('\n')}
<link rel="stylesheet" href="/static/${m.css}">
<script id="boot" type="application/json">${boot}</script>
<script type="module" src="/static/${m.pages[page]}"></script>
</head>
<body class="page-${page}"><div id="app"></div></body>
</html>
`;
    return { code: 200, bytes: Buffer.from(html), type: 'text/html; charset=utf-8', cache: 'no-cache', headers: SECURITY };
  }

  // ------------------------------------------------------------ the hall display

  /** The hall zones (from the windows). */
  private zones(): string[] {
    return [...new Set(this.config.windows.map((w) => w.zone ?? 'hall'))];
  }

  private zoneOfDevice(d: DeviceConfig): string {
    return d.bind.zone ?? this.config.windows.find((w) => w.number === d.bind.window)?.zone ?? 'hall';
  }

  private devicesOf(zone: string): DeviceConfig[] {
    return this.devices.filter((d) => this.zoneOfDevice(d) === zone);
  }

  private hallGet(req: HttpRequest): Reply {
    const m = /^\/hall\/([a-z0-9][a-z0-9_-]{0,31})(\/events)?$/.exec(req.url.pathname);
    if (!m || !this.zones().includes(m[1]!)) {
      return { code: 404, body: { error: 'not_found', message: `no hall zone here; the zones are ${this.zones().join(', ')} (GET /hall/<zone>)` } };
    }
    const zone = m[1]!;
    if (!m[2]) return this.page('hall', { zone, minShowMs: this.config.web.minShowMs, recent: this.config.web.recent });
    return this.connect(zone);
  }

  private async hallPost(req: HttpRequest): Promise<Reply> {
    const m = /^\/hall\/([a-z0-9][a-z0-9_-]{0,31})\/played$/.exec(req.url.pathname);
    if (!m || !this.zones().includes(m[1]!)) return { code: 404, body: { error: 'not_found', message: 'POST /hall/<zone>/played {"id": N}' } };
    let id: unknown;
    try {
      id = (JSON.parse(req.body ?? '') as { id?: unknown }).id;
    } catch {
      return { code: 400, body: { error: 'bad_json', message: 'the body must be JSON: {"id": N}' } };
    }
    if (!(typeof id === 'number' && Number.isInteger(id) && id >= 0)) return { code: 400, body: { error: 'bad_payload', message: 'id: the announcement id (a whole number)' } };
    const speakers = this.devicesOf(m[1]!).filter((d) => d.kind === 'speaker');
    if (!speakers.length) return { code: 404, body: { error: 'no_speaker', message: `zone ${m[1]} has no web speaker (a device with model web-speaker, transport {type: web})` } };
    const l = this.listener;
    if (!l) return { code: 503, body: { error: 'starting', message: 'the hub is starting or stopping' } };
    this.stats.played++;
    for (const d of speakers) await l.request(d, 'played', Buffer.from(JSON.stringify({ v: 1, id })));
    return { code: 200, body: { ok: true } };
  }

  /** A page's event stream: the zone's summary and board views first, then every change. */
  private connect(zone: string): Reply {
    const out = new PassThrough();
    const client: Client = { zone, out };
    this.stats.connections++;
    const first = ![...this.clients].some((c) => c.zone === zone);
    this.clients.add(client);
    const gone = () => {
      if (!this.clients.delete(client)) return;
      if (![...this.clients].some((c) => c.zone === zone)) for (const d of this.devicesOf(zone)) this.listener?.offline(d, 'no hall page open');
    };
    out.on('close', gone);
    out.on('error', gone);
    out.write(`retry: 1500\n\n`);
    out.write(frame('hall', this.hallSummary(zone, true)));
    const devices = this.devicesOf(zone);
    if (!devices.some((d) => d.kind === 'board'))
      out.write(frame('problem', { message: `zone ${zone} has no web board: add a device {kind: board, model: web-board, transport: {type: web}, bind: {zone: ${zone}}} to the config` }));
    for (const d of devices) {
      const r = this.retained.get(d.id);
      if (r) out.write(r);
      else if (d.kind === 'board') this.listener?.wantsState(d);
    }
    if (first) for (const d of devices) this.listener?.online(d, { model: d.model });
    return { code: 200, stream: out, type: 'text/event-stream; charset=utf-8' };
  }

  private hallSummary(zone: string, withTime: boolean): Record<string, unknown> {
    const c = this.config;
    const windows = c.windows.filter((w) => (w.zone ?? 'hall') === zone);
    const served = new Set(windows.flatMap((w) => w.services));
    return {
      zone,
      center: c.center.name,
      languages: c.center.languages,
      digits: c.web.digits,
      timezone: c.center.timezone,
      minShowMs: c.web.minShowMs,
      recent: c.web.recent,
      windows: windows.map((w) => ({ number: w.number, ...(w.name ? { name: w.name } : {}) })),
      services: c.services.filter((s) => served.has(s.id)).map((s) => ({ id: s.id, name: s.name, prefix: s.prefix, waiting: this.ctx.waiting(s.id) })),
      ...(withTime ? { now: Date.now() } : {}),
    };
  }

  /** Waiting counts change with many commits: at most a few summaries a second. */
  private hallSoon(): void {
    if (this.hallTimer || !this.clients.size) return;
    this.hallTimer = setTimeout(() => {
      this.hallTimer = undefined;
      for (const zone of new Set([...this.clients].map((c) => c.zone))) this.sendHall(zone);
    }, 250);
    this.hallTimer.unref?.();
  }

  private sendHall(zone: string): void {
    const s = this.hallSummary(zone, false);
    const key = JSON.stringify(s);
    if (this.lastHall.get(zone) === key) return;
    this.lastHall.set(zone, key);
    this.broadcast(zone, frame('hall', s));
  }

  private broadcastTick(): void {
    const f = frame('tick', { now: Date.now() });
    for (const c of this.clients) c.out.write(f);
  }

  private broadcast(zone: string, f: string): void {
    for (const c of this.clients) if (c.zone === zone) c.out.write(f);
  }

  // ------------------------------------------------------------ the `web` transport

  listen(listener: Listener): void {
    this.listener = listener;
  }

  link(device: DeviceConfig): Link {
    return {
      device,
      send: (m: OutMessage, opts?: { retain?: boolean }) => {
        const f = frame(m.leaf, { device: device.id, kind: device.kind, ...m.body });
        if (opts?.retain) this.retained.set(device.id, f);
        this.stats.sent++;
        this.broadcast(this.zoneOfDevice(device), f);
      },
    };
  }
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
