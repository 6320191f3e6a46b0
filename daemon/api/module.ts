/**
 * Module `api`: the command table served to people.
 *
 *   POST /api/v1/login   {name, password, bearer?}  → session cookie + CSRF token (or a bearer token)
 *   POST /api/v1/logout
 *   GET  /api/v1/me
 *   GET  /api/v1                                    → the actions this hub offers
 *   GET  /api/v1/<read action>?input                → e.g. /api/v1/queues, /api/v1/window?window=2
 *   POST /api/v1/<write action>  {input}            → e.g. /api/v1/windows.next {"window":2}
 *
 * and the same actions over the local socket (`socket.ts`) for the
 * technician's command line. Browser sessions are HttpOnly SameSite=Strict
 * cookies; every cookie-authenticated write must carry the session's CSRF
 * token in `X-CSRF-Token`. Programs use `Authorization: Bearer <token>`.
 *
 * Owns: sessions, the socket. May touch: the core (submit), the presence and
 * print ports, the routes port.
 */
import { PassThrough } from 'node:stream';
import type { Logger } from 'pino';
import type { HttpRequest, Presence, Reply, Routes } from '../../contract/ports.js';
import type { Principal } from '../../contract/roles.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';
import { ACTION_BY_NAME, ACTIONS, runAction, type ActionPorts } from './actions.js';
import { Auth } from './auth.js';
import { CommandSocket, socketPath } from './socket.js';

export const COOKIE = 'qhub_session';

/** An open live feed of a staff page (GET /api/v1/events). */
interface Feed {
  out: PassThrough;
  pending: Set<string>;
  timer?: NodeJS.Timeout;
  token: string;
}

const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export interface ApiContext extends Pick<HubContext, 'config' | 'log' | 'dataDir' | 'routes' | 'presence' | 'bus'> {
  core: Pick<HubContext['core'], 'submit' | 'engine' | 'store' | 'clock'>;
  print: ActionPorts['print'];
  reload: ActionPorts['reload'];
  alerts: ActionPorts['alerts'];
  fallbacks?: ActionPorts['fallbacks'];
  selftest?: ActionPorts['selftest'];
  reports?: ActionPorts['reports'];
  backup?: ActionPorts['backup'];
}

function cookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), decodeURIComponent(part.slice(i + 1).trim()));
  }
  return out;
}

const json = (code: number, body: unknown, headers?: Record<string, string | string[]>): Reply => ({ code, body, ...(headers ? { headers } : {}) });

export class ApiModule implements HubModule {
  readonly name = 'api';
  readonly essential = true;
  readonly auth: Auth;
  readonly ports: ActionPorts;
  private readonly log: Logger;
  private socket?: CommandSocket;
  private served = 0;
  private readonly feeds = new Set<Feed>();
  private readonly offs: (() => void)[] = [];
  private ping?: NodeJS.Timeout;
  private refused = 0;

  constructor(private readonly ctx: ApiContext) {
    this.log = ctx.log.child({ mod: 'api' });
    this.auth = new Auth(ctx.config.hub.users, { log: this.log, deviceIds: new Set(ctx.config.devices.map((d) => d.id)) });
    const core = ctx.core;
    this.ports = {
      config: ctx.config,
      submit: (cmd) => core.submit(cmd),
      engine: () => core.engine,
      seq: () => core.store.lastSeq,
      presence: ctx.presence,
      print: ctx.print,
      now: () => core.clock(),
      reload: ctx.reload,
      alerts: ctx.alerts,
      ...(ctx.fallbacks ? { fallbacks: ctx.fallbacks } : {}),
      ...(ctx.selftest ? { selftest: ctx.selftest } : {}),
      ...(ctx.reports ? { reports: ctx.reports } : {}),
      ...(ctx.backup ? { backup: ctx.backup } : {}),
      sessions: () => this.auth.list(),
    };
  }

  /** A reloaded config: new, changed and removed people (their sessions end), and the new windows and services for every action. */
  reload(config: ApiContext['config']): void {
    this.ports.config = config;
    this.auth.setUsers(config.hub.users, new Set(config.devices.map((d) => d.id)));
  }

  start(): Promise<void> | void {
    const r: Routes = this.ctx.routes;
    r.route('POST', '/api/v1/login', (req) => this.login(req));
    r.route('POST', '/api/v1/logout', (req) => this.logout(req));
    r.route('GET', '/api/v1/me', (req) => {
      const who = this.principal(req);
      return who.ok ? json(200, { user: this.describe(who.principal), csrf: who.csrf }) : who.reply;
    });
    r.route('GET', '/api/v1', () =>
      json(200, { actions: ACTIONS.map((a) => ({ name: a.name, kind: a.kind, method: a.kind === 'read' ? 'GET' : 'POST', path: `/api/v1/${a.name}`, roles: a.roles, summary: a.summary })) }),
    );
    r.route('GET', '/api/v1/events', (req) => this.events(req));
    this.listenFeeds();
    for (const a of ACTIONS) r.route(a.kind === 'read' ? 'GET' : 'POST', `/api/v1/${a.name}`, (req) => this.action(a.name, req));
    this.socket = new CommandSocket({ path: socketPath(this.ctx.dataDir, this.ctx.config), log: this.log, ports: this.ports });
    return this.socket.start();
  }

  async stop(): Promise<void> {
    clearInterval(this.ping);
    for (const off of this.offs.splice(0)) off();
    for (const f of [...this.feeds]) f.out.end();
    await this.socket?.stop();
  }

  health(): ModuleHealth {
    return { ok: true, detail: { sessions: this.auth.sessionCount, served: this.served, refused: this.refused, loginFailures: this.auth.failures, socket: this.socket?.path } };
  }

  private describe(p: Principal) {
    return { name: p.name, role: p.role, ...(p.windows ? { windows: p.windows } : {}) };
  }

  private async login(req: HttpRequest): Promise<Reply> {
    let body: { name?: unknown; password?: unknown; bearer?: unknown };
    try {
      body = JSON.parse(req.body ?? '') as typeof body;
    } catch {
      return json(400, { error: 'bad_json', message: 'send {"name": ..., "password": ...} as JSON' });
    }
    if (typeof body?.name !== 'string' || typeof body.password !== 'string' || body.name.length > 64 || body.password.length > 256)
      return json(400, { error: 'bad_input', message: 'name and password must be text (at most 64 and 256 characters)' });
    const r = await this.auth.login(body.name, body.password, req.ip);
    if (!r.ok) return json(r.status, { error: r.error, message: r.message }, r.retryAfterS ? { 'retry-after': String(r.retryAfterS) } : undefined);
    this.changed('people');
    if (body.bearer === true) return json(200, { user: this.describe(r.principal), token: r.token });
    const cookie = `${COOKIE}=${r.token}; HttpOnly; SameSite=Strict; Path=/`;
    return json(200, { user: this.describe(r.principal), csrf: r.csrf }, { 'set-cookie': cookie });
  }

  private logout(req: HttpRequest): Reply {
    const who = this.principal(req);
    if (!who.ok) return who.reply;
    if (who.principal.via === 'cookie' && req.headers['x-csrf-token'] !== who.csrf) return json(403, { error: 'csrf', message: 'missing or wrong X-CSRF-Token header' });
    this.auth.logout(who.token);
    this.changed('people');
    return json(200, { ok: true }, { 'set-cookie': `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0` });
  }

  /** Who sent a request: a bearer token or the session cookie. */
  private principal(req: HttpRequest): { ok: true; principal: Principal; csrf: string; token: string } | { ok: false; reply: Reply } {
    const m = /^Bearer ([A-Za-z0-9_-]{20,})$/.exec(req.headers.authorization ?? '');
    const token = m?.[1] ?? cookies(req.headers.cookie).get(COOKIE);
    const s = token ? this.auth.session(token) : undefined;
    if (!s || !token) return { ok: false, reply: json(401, { error: 'unauthorized', message: 'log in first: POST /api/v1/login {"name", "password"}' }) };
    return { ok: true, principal: { ...s.principal, via: m ? 'bearer' : 'cookie' }, csrf: s.csrf, token };
  }

  private async action(name: string, req: HttpRequest): Promise<Reply> {
    const who = this.principal(req);
    if (!who.ok) return this.note(who.reply);
    const a = ACTION_BY_NAME.get(name)!;
    let input: unknown;
    if (a.kind === 'read') input = Object.fromEntries(req.url.searchParams);
    else {
      // A page's script can set this header; another site's form cannot.
      if (who.principal.via === 'cookie' && (typeof req.headers['x-csrf-token'] !== 'string' || req.headers['x-csrf-token'] !== who.csrf))
        return this.note(json(403, { error: 'csrf', message: 'missing or wrong X-CSRF-Token header (the token comes with the login answer and GET /api/v1/me)' }));
      try {
        input = req.body?.trim() ? JSON.parse(req.body) : {};
      } catch {
        return this.note(json(400, { error: 'bad_json', message: 'the body must be one JSON object' }));
      }
    }
    const r = await runAction(name, input, who.principal, this.ports);
    if (!r.ok) {
      if (r.status === 403) this.log.info({ user: who.principal.name, action: name, message: r.message }, 'action refused');
      return this.note(json(r.status, { error: r.error, message: r.message }));
    }
    if (a.kind === 'write') this.log.info({ user: who.principal.name, action: name }, `${who.principal.name}: ${name}`);
    if (r.file && typeof r.result === 'string')
      return this.note({ code: 200, bytes: Buffer.from(r.result), type: r.file.type, cache: 'no-store', headers: { 'content-disposition': `${r.file.type.startsWith('text/html') ? 'inline' : 'attachment'}; filename="${r.file.name}"` } });
    return this.note(json(200, r.result));
  }

  /**
   * The staff pages' live feed (Server-Sent Events, any logged-in person):
   * `changed` with what changed (`queues`, `windows`, `devices`, `alerts`,
   * `people`), at most a few a second, after which a page reads what it
   * shows again; `alerts` with the open alerts whenever they change; a
   * `ping` every 15 s. The stream ends when the session does (logout,
   * 12 hours unused, a reload that removed the person).
   */
  private events(req: HttpRequest): Reply {
    const who = this.principal(req);
    if (!who.ok) return this.note(who.reply);
    const out = new PassThrough();
    const feed: Feed = { out, pending: new Set(), token: who.token };
    this.feeds.add(feed);
    const close = () => {
      clearTimeout(feed.timer);
      this.feeds.delete(feed);
    };
    out.on('close', close);
    out.on('error', close);
    out.write(`retry: 2000\n\n${frame('alerts', this.ports.alerts())}`);
    return { code: 200, stream: out, type: 'text/event-stream; charset=utf-8', headers: { 'cache-control': 'no-store' } };
  }

  /** Tells every open feed that something changed (coalesced per feed: one `changed` per 300 ms at most). */
  private changed(...what: string[]): void {
    for (const f of this.feeds) {
      for (const w of what) f.pending.add(w);
      f.timer ??= setTimeout(() => {
        f.timer = undefined;
        if (f.pending.size) f.out.write(frame('changed', { what: [...f.pending].sort() }));
        f.pending.clear();
      }, 300);
    }
  }

  /** The feeds' listeners on the bus (one each, whatever the number of pages open) and their keep-alive. */
  private listenFeeds(): void {
    const bus = this.ctx.bus;
    this.offs.push(
      bus.on('committed', 'api', () => this.changed('queues', 'windows')),
      bus.on('device.online', 'api', () => this.changed('devices')),
      bus.on('device.offline', 'api', () => this.changed('devices')),
      bus.on('alerts.changed', 'api', ({ open }) => {
        for (const f of this.feeds) f.out.write(frame('alerts', open));
        this.changed('alerts');
      }),
      bus.on('config.reloaded', 'api', () => this.changed('queues', 'windows', 'devices', 'people')),
    );
    this.ping = setInterval(() => {
      for (const f of [...this.feeds]) if (!this.auth.alive(f.token)) f.out.end();
      for (const f of this.feeds) f.out.write(frame('ping', {}));
      // Who is logged in at which window changes with time too (a keypad page closed).
      this.changed('people');
    }, 15_000);
    this.ping.unref();
  }

  private note(r: Reply): Reply {
    if (r.code === 200) this.served++;
    else this.refused++;
    return r;
  }
}
