/**
 * The hub's HTTP server, on Fastify: modules add routes through the narrow
 * `Routes` port (contract/ports.ts), never by reaching this class. It serves
 * `GET /health` (every module's state and figures, the bus listeners'
 * counts); MQTT over WebSocket shares the same listener at `/mqtt` (the mqtt
 * module attaches to `server`'s upgrade event).
 *
 * Why Fastify and not node:http with a route table: cookies, static files
 * with caching, body limits, content-type parsing and per-route schemas are
 * coming with the API and the web pages; Fastify gives them with a small
 * start-up cost (measured in the README).
 *
 * Owns: the HTTP listener. May touch: the module list and the bus (read only).
 */
import type { IncomingHttpHeaders, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { HttpRequest, Reply, RouteHandler, Routes } from '../../contract/ports.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule } from '../spine/module.js';

/**
 * Fastify's schema compilers (Ajv, fast-json-stringify), loaded at the first
 * route that has a schema: no route has one (bodies are parsed and explained
 * by each route), and loading them was about a tenth of the daemon's start.
 */
const fastifyRequire = createRequire(createRequire(import.meta.url).resolve('fastify'));
const LAZY_COMPILERS = {
  buildValidator: (...a: unknown[]) => (fastifyRequire('@fastify/ajv-compiler') as () => (...x: unknown[]) => unknown)()(...a),
  buildSerializer: (...a: unknown[]) => (fastifyRequire('@fastify/fast-json-stringify-compiler') as () => (...x: unknown[]) => unknown)()(...a),
} as never;

export type { HttpRequest, Reply, RouteHandler as Handler };

const mb = (n: number) => Math.round((n / 2 ** 20) * 10) / 10;
function memory(): Record<string, number> {
  const m = process.memoryUsage();
  return { rssMiB: mb(m.rss), heapUsedMiB: mb(m.heapUsed), heapTotalMiB: mb(m.heapTotal), externalMiB: mb(m.external), arrayBuffersMiB: mb(m.arrayBuffers) };
}

/** A bus listener that failed this recently makes the hub "degraded". */
const RECENT_FAILURE_S = 60;
/** The largest request body the hub reads (a command is a few hundred bytes). */
export const MAX_BODY = 64 * 1024;

export class HttpModule implements HubModule, Routes {
  readonly name = 'http';
  readonly essential = true;
  readonly app: FastifyInstance;
  private readonly started = Date.now();
  private readonly log: Logger;
  private readonly prefixes: { method: string; prefix: string; handler: RouteHandler }[] = [];
  /** Extra figures for /health's top level (e.g. the alerts that make it degraded). */
  private readonly healthParts: (() => { degraded?: boolean; summary?: Record<string, unknown> })[] = [];
  port?: number;

  constructor(private readonly ctx: Pick<HubContext, 'config' | 'log' | 'version' | 'modules' | 'bus'>) {
    this.log = ctx.log.child({ mod: 'http' });
    this.app = Fastify({ logger: false, bodyLimit: MAX_BODY, return503OnClosing: true, forceCloseConnections: true, schemaController: { compilersFactory: LAZY_COMPILERS } });
    // Bodies reach handlers as text: each route parses and explains its own errors.
    this.app.removeAllContentTypeParsers();
    this.app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_BODY }, (_req, body, done) => done(null, body));
    this.app.setNotFoundHandler((req, reply) => {
      const url = new URL(req.url, 'http://hub');
      const p = this.prefixes.find((x) => x.method === (req.method === 'HEAD' ? 'GET' : req.method) && url.pathname.startsWith(x.prefix));
      if (p) return this.run(p.handler, req, reply);
      return void reply.code(404).header('cache-control', 'no-store').send({ error: 'not_found', message: `no ${req.method} ${url.pathname} here; try GET /health or GET /api/v1` });
    });
    this.app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
      const code = err.statusCode ?? 500;
      if (code >= 500) this.log.error({ err, path: req.url }, 'HTTP handler failed');
      if (code === 413) {
        // Stop reading the rest of an oversized body: without this, node reads and discards every
        // byte the sender keeps pushing (20 MB bodies grew the hub by ~90 MiB in the abuse-http chaos run).
        void reply.header('connection', 'close');
        reply.raw.once('finish', () => req.raw.socket?.destroy());
      }
      const error = code === 413 ? 'too_large' : code === 415 ? 'unsupported_media_type' : code < 500 ? 'bad_request' : 'internal';
      void reply
        .code(code)
        .header('cache-control', 'no-store')
        .send({ error, message: code === 413 ? `the body is over ${MAX_BODY} bytes` : code < 500 ? err.message : 'the hub could not answer this request' });
    });
    this.route('GET', '/health', () => this.healthReport());
  }

  /** The node:http server under Fastify (MQTT over WebSocket attaches to its upgrade event). */
  get server(): Server {
    return this.app.server;
  }

  /** Adds a route; HEAD is served by a GET route. */
  route(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, handler: RouteHandler): void {
    this.app.route({ method, url: path, handler: (req, reply) => this.run(handler, req, reply) });
  }

  /** Adds a route for every path under `prefix` (e.g. `/voice/`); exact routes win. */
  routePrefix(method: 'GET' | 'POST', prefix: string, handler: RouteHandler): void {
    this.prefixes.push({ method, prefix, handler });
  }

  /** Adds a part to /health: figures at its top level, and whether it makes the hub degraded. */
  healthPart(part: () => { degraded?: boolean; summary?: Record<string, unknown> }): void {
    this.healthParts.push(part);
  }

  private async run(handler: RouteHandler, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const url = new URL(req.url, 'http://hub');
    const request: HttpRequest = {
      method: req.method,
      url,
      headers: req.headers as IncomingHttpHeaders,
      body: typeof req.body === 'string' ? req.body : undefined,
      ip: req.ip,
      raw: req.raw as IncomingMessage,
    };
    const r = await handler(request);
    for (const [k, v] of Object.entries(r.headers ?? {})) void reply.header(k, v);
    if ('stream' in r) {
      void reply.code(r.code).header('content-type', r.type).header('cache-control', 'no-store').header('x-accel-buffering', 'no');
      // Returned to Fastify: the reply is under way (an async handler that resolves empty would be answered again, with an empty body).
      return reply.send(r.stream);
    }
    if ('bytes' in r) {
      void reply.code(r.code).header('content-type', r.type).header('cache-control', r.cache ?? 'max-age=3600');
      return void reply.send(req.method === 'HEAD' ? undefined : r.bytes);
    }
    void reply.code(r.code).header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-store');
    return void reply.send(JSON.stringify(r.body));
  }

  healthReport(): { code: number; body: Record<string, unknown> } {
    const modules = this.ctx.modules.report();
    const listeners = this.ctx.bus.stats();
    const failing = listeners.filter((l) => l.lastFailureAgo !== undefined && l.lastFailureAgo < RECENT_FAILURE_S);
    const parts = this.healthParts.map((p) => {
      try {
        return p();
      } catch (e) {
        return { degraded: true, summary: { healthPartError: (e as Error).message } };
      }
    });
    const degraded = modules.some((m) => !m.ok) || failing.length > 0 || parts.some((p) => p.degraded);
    const summary = Object.assign({}, ...modules.map((m) => m.summary ?? {}), ...parts.map((p) => p.summary ?? {})) as Record<string, unknown>;
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

  async start(): Promise<void> {
    const { port, host } = this.ctx.config.hub.http;
    this.server.on('connection', (s) => s.setNoDelay(true));
    await this.app.listen({ port, host });
    this.port = (this.server.address() as AddressInfo).port;
    this.log.info({ port: this.port }, 'HTTP listening');
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections?.();
    await this.app.close();
  }
}
