/**
 * The command table over a local Unix socket, for the technician's command
 * line on the Pi. Whoever can open the socket is the technician: the file is
 * made mode 0660, so only root and the service's group can (systemd runs
 * the hub as user and group qhub).
 *
 * One JSON object per line each way:
 *   → {"id": 1, "action": "windows.next", "input": {"window": 3}, "as": "ahmed"}
 *   ← {"id": 1, "ok": true, "result": {...}}  or  {"id": 1, "ok": false, "status": 403, "error": "...", "message": "..."}
 * `as` is the login name of the person at the terminal (recorded as
 * `cli:<as>` in the event log); it is not a proof of identity, the file
 * permission is.
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { CenterConfig } from '../../config/schema.js';
import type { Principal } from '../../contract/roles.js';
import { runAction, type ActionPorts } from './actions.js';

/** Where the socket is: hub.socket, else `<data dir>/qhub.sock`. */
export function socketPath(dataDir: string, config: Pick<CenterConfig, 'hub'>): string {
  return (config.hub as { socket?: string }).socket ?? join(dataDir, 'qhub.sock');
}

const MAX_LINE = 64 * 1024;

/** Whether something answers on a socket path (a running hub), or it is a stale file. */
function alive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export class CommandSocket {
  private server?: Server;
  private readonly clients = new Set<Socket>();
  readonly path: string;

  constructor(private readonly o: { path: string; log: Logger; ports: ActionPorts }) {
    this.path = o.path;
  }

  async start(): Promise<void> {
    if (existsSync(this.path)) {
      if (await alive(this.path)) throw new Error(`${this.path}: another qhub answers on this socket (same data directory?): stop it first`);
      unlinkSync(this.path); // left by a hub that was killed
    }
    const server = createServer((s) => this.serve(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(this.path, 0o660);
    this.server = server;
    this.o.log.info({ socket: this.path }, 'command socket listening (qhub status, qhub window ...)');
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
  }

  private serve(s: Socket): void {
    this.clients.add(s);
    s.on('close', () => this.clients.delete(s));
    s.on('error', () => s.destroy());
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      if (buf.length > MAX_LINE && !buf.includes('\n')) {
        s.end(`${JSON.stringify({ ok: false, status: 413, error: 'too_large', message: `a request line is at most ${MAX_LINE} bytes` })}\n`);
        return;
      }
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (line) void this.answer(s, line);
      }
    });
  }

  private async answer(s: Socket, line: string): Promise<void> {
    let req: { id?: unknown; action?: unknown; input?: unknown; as?: unknown };
    try {
      req = JSON.parse(line) as typeof req;
    } catch {
      return this.reply(s, { ok: false, status: 400, error: 'bad_json', message: 'one JSON object per line' });
    }
    const id = typeof req.id === 'number' || typeof req.id === 'string' ? req.id : undefined;
    if (typeof req.action !== 'string') return this.reply(s, { id, ok: false, status: 400, error: 'bad_input', message: '"action" must name an action' });
    const as = typeof req.as === 'string' && /^[A-Za-z0-9._-]{1,32}$/.test(req.as) ? req.as : 'root';
    const who: Principal = { name: `cli:${as}`, role: 'technician', via: 'socket' };
    const r = await runAction(req.action, req.input ?? {}, who, this.o.ports);
    if (r.ok && req.action.includes('.')) this.o.log.info({ user: who.name, action: req.action }, `${who.name}: ${req.action}`);
    this.reply(s, { id, ...r });
  }

  private reply(s: Socket, body: Record<string, unknown>): void {
    if (!s.destroyed) s.write(`${JSON.stringify(body)}\n`);
  }
}
