/**
 * Forwarding the event log to the backend over a webhook, against a real
 * HTTP server playing a bad backend: errors, a hang past the timeout, dropped
 * connections, an answer lost after the batch was taken, a backend that is
 * down for a while; and the hub killed with SIGKILL in the middle of a batch.
 * After dropping duplicates by key, every event must have arrived once, in
 * order, and every batch's signature must check.
 */
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadCenter } from '../config/load.js';
import { createHub } from '../daemon/hub.js';
import { connectDevice, exampleSecrets, startHub, testCenter } from './helpers/hub.js';
import { captureLog } from './helpers/logs.js';

const SECRET = 'webhook-secret-for-tests';
/** docs/events.schema.json: what docs/EVENTS.md promises the backend. */
const validate = new Ajv2020({ allErrors: true }).compile(JSON.parse(readFileSync(new URL('../docs/events.schema.json', import.meta.url), 'utf8')) as object);
type Received = { key: string; seq: number; type: string; v: number };

/** A backend whose answer to the n-th request (from 1) is chosen by `behave`. */
class Backend {
  server!: Server;
  port = 0;
  requests = 0;
  badSignatures = 0;
  /** Events in the order the backend took them (duplicates included). */
  taken: Received[] = [];
  constructor(private readonly behave: (n: number, req: IncomingMessage, res: ServerResponse, take: () => void) => void) {}

  async listen(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => {
        const n = ++this.requests;
        const ts = String(req.headers['x-qhub-timestamp']);
        const expected = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex')}`;
        if (req.headers['x-qhub-signature'] !== expected || Math.abs(Date.now() / 1000 - Number(ts)) > 300) this.badSignatures++;
        const take = () => this.taken.push(...(JSON.parse(body) as { events: Received[] }).events);
        this.behave(n, req, res, take);
      });
    });
    await new Promise<void>((r) => this.server.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((r) => {
      this.server.closeAllConnections();
      this.server.close(() => r());
    });
  }

  /** Seqs after dropping repeated keys, in the order first taken. */
  unique(): number[] {
    const seen = new Set<string>();
    return this.taken.filter((e) => !seen.has(e.key) && seen.add(e.key)).map((e) => e.seq);
  }
}

const forward = (port: number, extra: Record<string, unknown> = {}) => ({
  webhook: { url: `http://127.0.0.1:${port}/qhub/events`, secret: SECRET, batch: 7, lingerMs: 20, timeoutMs: 300, maxBackoffMs: 400, ...extra },
});

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  cleanup = [];
});

describe('forwarding to the backend (webhook)', () => {
  it('through errors, a hang, dropped connections, a lost answer and an outage: every event once, in order, signed', async () => {
    const backend = new Backend((n, _req, res, take) => {
      if (n === 2) return void res.writeHead(500).end('oops'); // an error
      if (n === 3) return; // hangs past the hub's 300 ms timeout
      if (n === 4) return void res.socket?.destroy(); // drops the connection
      if (n === 6) {
        take(); // takes the batch, but the answer is lost: the hub must send it again
        return void res.socket?.destroy();
      }
      take();
      res.writeHead(200).end('{}');
    });
    await backend.listen();
    cleanup.push(() => backend.close());
    const { dir, config } = testCenter((doc) => doc.set('forward', doc.createNode(forward(backend.port))));
    const hub = createHub({ center: loadCenter(config, {}), dataDir: join(dir, 'data'), log: captureLog('warn').log, version: 'test' });
    await hub.start();
    cleanup.push(() => hub.stop());

    const issue = (i: number) => hub.ctx.core.submit({ type: 'issue', service: ['intake', 'treasury', 'delivery'][i % 3]!, source: 'disp-1', id: `f${i}` });
    for (let i = 0; i < 30; i++) {
      await issue(i);
      await new Promise((r) => setTimeout(r, 10));
    }
    // The backend goes down for a while, events keep coming.
    await vi.waitFor(() => expect(backend.requests).toBeGreaterThanOrEqual(7), { timeout: 10_000 });
    await backend.close();
    for (let i = 30; i < 60; i++) await issue(i);
    const down = (await (await fetch(`http://127.0.0.1:${hub.http.port}/health`)).json()) as { forward: { backlog: number } };
    expect(down.forward.backlog).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 800));
    await backend.listen(backend.port);

    const last = hub.ctx.core.store.lastSeq;
    await vi.waitFor(() => expect(backend.unique().at(-1)).toBe(last), { timeout: 15_000, interval: 50 });
    expect(backend.unique()).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    expect(backend.taken.length).toBeGreaterThan(last); // at least once: the lost answer's batch came twice
    expect(backend.badSignatures).toBe(0);
    const center = hub.ctx.config.center.id;
    for (const e of backend.taken) {
      expect(e.key).toBe(`${center}:${e.seq}`);
      expect(validate(e), `${JSON.stringify(e)}: ${JSON.stringify(validate.errors?.slice(0, 3))}`).toBe(true);
    }
    const h = (await (await fetch(`http://127.0.0.1:${hub.http.port}/health`)).json()) as { forward: { backlog: number }; modules: { name: string; detail: { failures: number } }[] };
    expect(h.forward.backlog).toBe(0);
    expect(h.modules.find((m) => m.name === 'forwarder')!.detail.failures).toBe(0);
  });

  it('the hub killed with SIGKILL in the middle of a batch: nothing is lost after it restarts', async () => {
    let slow = true;
    const backend = new Backend((_n, _req, res, take) => {
      take();
      setTimeout(() => res.writeHead(200).end('{}'), slow ? 400 : 0);
    });
    await backend.listen();
    cleanup.push(() => backend.close());
    const { dir, config } = testCenter((doc) => doc.set('forward', doc.createNode(forward(backend.port, { timeoutMs: 5000 }))));
    const secrets = exampleSecrets();
    let hub = await startHub(config, join(dir, 'data'));
    const disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
    for (let i = 0; i < 25; i++) expect((await disp.request('press', { service: 'intake' }, 'ticket')).leaf).toBe('ticket');
    await disp.close();
    // A batch is on its way and not yet answered: power cut.
    await vi.waitFor(() => expect(backend.requests).toBeGreaterThan(0), { timeout: 5000 });
    await hub.kill();
    const takenBeforeKill = backend.unique().length;
    slow = false;
    hub = await startHub(config, join(dir, 'data'));
    cleanup.push(() => hub.stop());
    const health = async () => (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as { seq: number; forward: { backlog: number } };
    const last = (await health()).seq;
    await vi.waitFor(async () => expect((await health()).forward.backlog).toBe(0), { timeout: 15_000, interval: 100 });
    expect(backend.unique()).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    expect(takenBeforeKill).toBeLessThan(last);
    expect(backend.badSignatures).toBe(0);
  });

  it('every kind of event a day makes matches docs/events.schema.json as the backend receives it', async () => {
    const backend = new Backend((_n, _req, res, take) => {
      take();
      res.writeHead(204).end();
    });
    await backend.listen();
    cleanup.push(() => backend.close());
    const { dir, config } = testCenter((doc) => {
      doc.set('forward', doc.createNode(forward(backend.port)));
      doc.setIn(['center', 'day', 'leftovers'], 'carry');
      doc.setIn(['queue', 'nearAhead'], 1);
    });
    const hub = createHub({ center: loadCenter(config, {}), dataDir: join(dir, 'data'), log: captureLog('warn').log, version: 'test' });
    await hub.start();
    cleanup.push(() => hub.stop());
    const run = async (cmd: Parameters<typeof hub.ctx.core.submit>[0]) => expect((await hub.ctx.core.submit(cmd)).ok, JSON.stringify(cmd)).toBe(true);
    let k = 0;
    const ref = (source: string) => ({ source, id: `c${++k}` });
    for (let i = 0; i < 4; i++) await run({ type: 'issue', service: 'intake', ...ref('disp-1') });
    await run({ type: 'next', window: 1, ...ref('kp-1') });
    await run({ type: 'recall', window: 1, ...ref('kp-1') });
    await run({ type: 'start', window: 1, ...ref('kp-1') });
    await run({ type: 'attach', ticket: 'A001', requestId: 'REQ-1', inquiry: '2026-1', ...ref('backend') });
    await run({ type: 'transfer', window: 1, service: 'treasury', ...ref('kp-1') });
    await run({ type: 'next', window: 1, ...ref('kp-1') });
    await run({ type: 'noShow', window: 1, ...ref('kp-1') });
    await run({ type: 'returnNoShow', ticket: 'A002', ...ref('kp-1') });
    await run({ type: 'next', window: 1, ...ref('kp-1') });
    await run({ type: 'park', window: 1, ...ref('kp-1') });
    await run({ type: 'pause', window: 1, reason: 'break', ...ref('kp-1') });
    await run({ type: 'open', window: 1, ...ref('kp-1') });
    await run({ type: 'assign', window: 2, services: ['treasury', 'intake'], ...ref('supervisor') });
    await run({ type: 'cancel', ticket: 'A004', ...ref('supervisor') });
    await run({ type: 'enqueueInquiry', service: 'delivery', inquiry: '2026-9', requestId: 'REQ-9', ...ref('backend') });
    await run({ type: 'next', window: 5, ...ref('kp-5') });
    await run({ type: 'finish', window: 5, ...ref('kp-5') });
    await run({ type: 'close', window: 1, ...ref('kp-1') });
    const last = hub.ctx.core.store.lastSeq;
    await vi.waitFor(() => expect(backend.unique().at(-1)).toBe(last), { timeout: 10_000, interval: 50 });
    const types = new Set(backend.taken.map((e) => e.type));
    for (const t of ['day.rolled', 'ticket.issued', 'ticket.called', 'ticket.recalled', 'ticket.serving', 'ticket.attached', 'ticket.transferred', 'ticket.noShow', 'ticket.returned', 'ticket.parked', 'ticket.cancelled', 'ticket.done', 'window.opened', 'window.paused', 'window.closed', 'window.assigned', 'ticket.near'])
      expect(types, t).toContain(t);
    for (const e of backend.taken) expect(validate(e), `${JSON.stringify(e)}: ${JSON.stringify(validate.errors?.slice(0, 3))}`).toBe(true);
    expect(validate({ ...backend.taken[1], number: undefined })).toBe(false); // the schema does check
    const { key: _key, ...keyless } = backend.taken[1]!;
    expect(validate(keyless)).toBe(false); // key, the dedupe key, is required
  });

  it('over HTTPS, verifies the backend against the configured private CA, and refuses an unknown certificate', async () => {
    const { dir } = testCenter();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'be.key'), '-out', join(dir, 'be.crt'), '-days', '1', '-subj', '/CN=backend', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const taken: Received[] = [];
    const server = createHttpsServer({ key: readFileSync(join(dir, 'be.key')), cert: readFileSync(join(dir, 'be.crt')) }, (req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => {
        taken.push(...(JSON.parse(body) as { events: Received[] }).events);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise((r) => server.close(r)));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/e`;
    for (const trusted of [false, true]) {
      const c = testCenter((doc) => doc.set('forward', doc.createNode({ webhook: { url, secret: SECRET, lingerMs: 10, timeoutMs: 2000, ...(trusted ? { ca: join(dir, 'be.crt') } : {}) } })));
      const log = captureLog('warn');
      const hub = createHub({ center: loadCenter(c.config, {}), dataDir: join(c.dir, 'data'), log: log.log, version: 'test' });
      await hub.start();
      await hub.ctx.core.submit({ type: 'issue', service: 'intake', source: 'disp-1', id: 'tls-1' });
      if (trusted) await vi.waitFor(() => expect(taken.length).toBeGreaterThanOrEqual(2), { timeout: 5000 });
      else {
        await vi.waitFor(() => expect(log.lines.some((l) => String(l.err).includes('self-signed'))).toBe(true), { timeout: 5000 });
        expect(taken).toHaveLength(0);
      }
      await hub.stop();
    }
  });
});
