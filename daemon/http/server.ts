/**
 * The hub's HTTP server: a small route table that modules add to (the API
 * and the web pages in later issues), and `GET /health`, which shows every
 * module's state and figures and the bus listeners' counts. MQTT over
 * WebSocket shares this server at `/mqtt` (the mqtt module attaches it).
 *
 * Owns: the HTTP listener. May touch: the module list and the bus (read only).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { HubContext } from '../spine/context.js';
import type { HubModule } from '../spine/module.js';

/** A JSON body, or raw bytes with their content type (a rendered announcement). */
export type Reply = { code: number; body: unknown } | { code: number; bytes: Buffer; type: string };
export type Handler = (req: IncomingMessage, url: URL) => Reply | Promise<Reply>;

const mb = (n: number) => Math.round((n / 2 ** 20) * 10) / 10;
function memory(): Record<string, number> {
  const m = process.memoryUsage();
  return { rssMiB: mb(m.rss), heapUsedMiB: mb(m.heapUsed), heapTotalMiB: mb(m.heapTotal), externalMiB: mb(m.external), arrayBuffersMiB: mb(m.arrayBuffers) };
}

/** A bus listener that failed this recently makes the hub "degraded". */
const RECENT_FAILURE_S = 60;

export class HttpModule implements HubModule {
  readonly name = 'http';
  readonly essential = true;
  readonly server: Server;
  private readonly routes = new Map<string, Handler>();
  private readonly prefixes: { method: string; prefix: string; handler: Handler }[] = [];
  private readonly started = Date.now();
  private readonly log: Logger;
  port?: number;

  constructor(private readonly ctx: HubContext) {
    this.log = ctx.log.child({ mod: 'http' });
    this.server = createServer((req, res) => void this.handle(req, res));
    this.route('GET', '/health', () => this.healthReport());
  }

  /** Adds a route; HEAD is served by a GET route. */
  route(method: string, path: string, handler: Handler): void {
    this.routes.set(`${method} ${path}`, handler);
  }

  /** Adds a route for every path under `prefix` (e.g. `/voice/`); exact routes win. */
  routePrefix(method: string, prefix: string, handler: Handler): void {
    this.prefixes.push({ method, prefix, handler });
  }

  healthReport(): { code: number; body: Record<string, unknown> } {
    const modules = this.ctx.modules.report();
    const listeners = this.ctx.bus.stats();
    const failing = listeners.filter((l) => l.lastFailureAgo !== undefined && l.lastFailureAgo < RECENT_FAILURE_S);
    const degraded = modules.some((m) => !m.ok) || failing.length > 0;
    const summary = Object.assign({}, ...modules.map((m) => m.summary ?? {})) as Record<string, unknown>;
    return {
      code: modules.some((m) => m.essential && !m.ok) ? 503 : 200,
      body: {
        status: degraded ? 'degraded' : 'ok',
        version: this.ctx.version,
        center: this.ctx.config.center.id,
        uptime: Math.round((Date.now() - this.started) / 1000),
        memory: memory(),
        ...summary,
        modules: modules.map(({ summary: _s, ...m }) => m),
        listeners,
      },
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://hub');
    const json = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    try {
      const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
      const handler = this.routes.get(`${method} ${url.pathname}`) ?? this.prefixes.find((p) => p.method === method && url.pathname.startsWith(p.prefix))?.handler;
      if (!handler) return json(404, { error: 'not_found', message: `no ${req.method} ${url.pathname} here; try GET /health` });
      const r = await handler(req, url);
      if ('bytes' in r) {
        res.writeHead(r.code, { 'content-type': r.type, 'content-length': r.bytes.length, 'cache-control': 'max-age=3600' });
        res.end(req.method === 'HEAD' ? undefined : r.bytes);
        return;
      }
      json(r.code, r.body);
    } catch (e) {
      this.log.error({ err: e, path: url.pathname }, 'HTTP handler failed');
      if (!res.headersSent) json(500, { error: 'internal', message: 'the hub could not answer this request' });
    }
  }

  start(): Promise<void> {
    const { port, host } = this.ctx.config.hub.http;
    this.server.on('connection', (s) => s.setNoDelay(true));
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as AddressInfo).port;
        this.log.info({ port: this.port }, 'HTTP listening');
        resolve();
      });
    });
  }

  stop(): Promise<void> {
    return new Promise((r) => {
      this.server.closeAllConnections?.();
      if (!this.server.listening) return r();
      this.server.close(() => r());
    });
  }
}
