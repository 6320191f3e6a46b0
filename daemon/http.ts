/**
 * The hub's HTTP server: `GET /health` now; the pages and the API come in
 * later issues. MQTT over WebSocket shares this server at `/mqtt`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Broker } from './broker.js';
import type { Core } from './core.js';

export interface HttpOptions {
  core: Core;
  broker: Broker;
  log: Logger;
  version: string;
}

export class HttpServer {
  readonly server: Server;
  private readonly started = Date.now();
  port?: number;

  constructor(private readonly opts: HttpOptions) {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => s.setNoDelay(true));
  }

  health(): { code: number; body: Record<string, unknown> } {
    const { core, broker } = this.opts;
    const devices = core.config.devices
      .filter((d) => d.enabled && d.transport.type === 'mqtt')
      .map((d) => {
        const o = broker.online.get(d.id);
        return { id: d.id, kind: d.kind, online: !!o, ...(o ? { since: new Date(o.since).toISOString(), model: o.model, fw: o.fw } : {}) };
      });
    const online = devices.filter((d) => d.online).length;
    const degraded = !!core.storageError;
    return {
      code: degraded ? 503 : 200,
      body: {
        status: degraded ? 'degraded' : 'ok',
        ...(core.storageError ? { storage: core.storageError } : {}),
        version: this.opts.version,
        center: core.config.center.id,
        uptime: Math.round((Date.now() - this.started) / 1000),
        day: core.engine.state.day,
        seq: core.store.lastSeq,
        clients: broker.connectedClients(),
        devices: { online, offline: devices.length - online, list: devices },
      },
    };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://hub');
    const json = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    try {
      if (url.pathname === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
        const h = this.health();
        return json(h.code, h.body);
      }
      json(404, { error: 'not_found', message: `no ${req.method} ${url.pathname} here; try GET /health` });
    } catch (e) {
      this.opts.log.error({ err: e, path: url.pathname }, 'HTTP handler failed');
      json(500, { error: 'internal', message: 'the hub could not answer this request' });
    }
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((r) => {
      this.server.closeAllConnections?.();
      this.server.close(() => r());
    });
  }
}
