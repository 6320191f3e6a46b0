/**
 * Parts the chaos scenarios share: the daemon with a fixed MQTT port (devices
 * reconnect to it after a kill), devices as real mqtt.js clients that retry a
 * request with the same id until the hub answers, a webhook receiver, an
 * upstream mosquitto with a consumer, and the checks on the event log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import type { StoredEvent } from '../../contract/queue.js';
import { Store } from '../../daemon/store/store.js';
import { exampleSecrets, startHub, testCenter, type RunningHub } from '../helpers/hub.js';

export const SECRETS = exampleSecrets();
export const WEBHOOK_SECRET = 'chaos-webhook-secret';
export const MOSQUITTO = '/usr/sbin/mosquitto';
export const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const onAbort = () => (clearTimeout(t), r());
    const t = setTimeout(() => (signal?.removeEventListener('abort', onAbort), r()), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Polls `fn` until it returns true or `ms` pass; returns whether it did. */
export async function waitUntil(fn: () => boolean | Promise<boolean>, ms: number, every = 100, signal?: AbortSignal): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await fn()) return true;
    } catch {
      /* not yet */
    }
    if (Date.now() > end || signal?.aborted) return false;
    await sleep(every);
  }
}

export function percentile(xs: number[], p: number): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Resident memory of a process in MB (VmRSS), or null when it is gone. */
export function rssMb(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

export interface CenterOpts {
  mqttPort: number;
  webhookPort?: number;
  upstreamPort?: number;
  /** More edits of the center (YAML document). */
  edit?: Parameters<typeof testCenter>[0];
}

/**
 * The example center on a fixed loopback MQTT port, numbers up to 99999 (no
 * legitimate wrap-around within a run), a device rate limit a load generator
 * stays under, and the forwarders it is given.
 */
export function chaosCenter(o: CenterOpts): { dir: string; config: string } {
  return testCenter((doc, dir) => {
    doc.setIn(['hub', 'mqtt'], doc.createNode({ host: '127.0.0.1', port: o.mqttPort, messagesPerSecond: 500, burst: 1000 }));
    for (const [i] of ['intake', 'treasury', 'delivery', 'inquiry', 'complaints'].entries()) doc.setIn(['services', i, 'last'], 99999);
    const forward: Record<string, unknown> = {};
    if (o.webhookPort)
      forward.webhook = { url: `http://127.0.0.1:${o.webhookPort}/qhub/events`, secret: WEBHOOK_SECRET, batch: 200, lingerMs: 20, timeoutMs: 3000, maxBackoffMs: 1000 };
    if (o.upstreamPort) forward.mqtt = { url: `mqtt://127.0.0.1:${o.upstreamPort}`, batch: 200 };
    if (Object.keys(forward).length) doc.set('forward', doc.createNode(forward));
    o.edit?.(doc, dir);
  });
}

/** Starts the daemon and measures how long it took to say "qhub ready". */
export async function startTimed(config: string, dataDir: string, env: Record<string, string> = {}): Promise<{ hub: RunningHub; ms: number }> {
  const t0 = performance.now();
  const hub = await startHub(config, dataDir, { QHUB_LOG_LEVEL: 'info', ...env });
  return { hub, ms: performance.now() - t0 };
}

export async function health(hub: RunningHub): Promise<{ seq: number; forward?: { backlog: number }; bridge?: { connected: boolean; backlog: number } } & Record<string, unknown>> {
  const r = await fetch(`http://127.0.0.1:${hub.httpPort}/health`, { signal: AbortSignal.timeout(5000) });
  return (await r.json()) as { seq: number };
}

/**
 * Waits until the hub is quiet and forwarded everything: both backlogs 0, the
 * log's last seq unchanged for a second (late device presence events), and
 * every receiver holding that many distinct events. Returns the last seq, or
 * undefined when that did not happen within `ms`.
 */
export async function settle(hub: RunningHub, receivers: Taken[], ms = 60_000): Promise<number | undefined> {
  let prev = -1;
  let last: number | undefined;
  const ok = await waitUntil(async () => {
    const h = await health(hub);
    const quiet = h.seq === prev && (h.forward?.backlog ?? 0) === 0 && (h.bridge?.backlog ?? 0) === 0 && receivers.every((r) => r.unique().length >= h.seq);
    prev = h.seq;
    last = h.seq;
    return quiet;
  }, ms, 1000);
  return ok ? last : undefined;
}

/** Events a receiver took, in the order it took them, duplicates included. */
export class Taken {
  events: { key: string; seq: number; type: string; ref?: string }[] = [];
  add(e: { key: string; seq: number; type: string }): void {
    this.events.push(e);
  }
  /** Seqs after dropping repeated keys, in the order first taken. */
  unique(): number[] {
    const seen = new Set<string>();
    return this.events.filter((e) => !seen.has(e.key) && seen.add(e.key)).map((e) => e.seq);
  }
  /** Problems with "every event 1..last exactly once after dedup, in order". */
  check(name: string, last: number): string[] {
    const u = this.unique();
    if (u.length === last && u.every((s, i) => s === i + 1)) return [];
    const firstBad = u.findIndex((s, i) => s !== i + 1);
    return [`${name} got ${u.length} distinct events of ${last}${firstBad >= 0 ? `; the ${firstBad + 1}th distinct one was seq ${u[firstBad]}` : ''}`];
  }
}

/** A backend: answers 200 to a correctly signed batch, records its events. */
export class Receiver {
  readonly taken = new Taken();
  requests = 0;
  badSignatures = 0;
  private server?: Server;
  port = 0;
  /** Time each batch arrived (ms) and its size: delivery rate. */
  batches: { at: number; n: number }[] = [];

  async listen(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        if (req.method !== 'POST') return void res.writeHead(204).end();
        this.requests++;
        const body = Buffer.concat(chunks).toString('utf8');
        const ts = String(req.headers['x-qhub-timestamp']);
        const expected = `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(`${ts}.${body}`).digest('hex')}`;
        if (req.headers['x-qhub-signature'] !== expected) {
          this.badSignatures++;
          return void res.writeHead(401).end();
        }
        const events = (JSON.parse(body) as { events: { key: string; seq: number; type: string }[] }).events;
        for (const e of events) this.taken.add({ key: e.key, seq: e.seq, type: e.type });
        this.batches.push({ at: Date.now(), n: events.length });
        res.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return Promise.resolve();
    return new Promise((r) => {
      s.closeAllConnections();
      s.close(() => r());
    });
  }
}

/** Debian's mosquitto on a loopback port, started by the scenario, and a central consumer of the center's events. */
export class Upstream {
  proc?: ChildProcess;
  consumer?: MqttClient;
  readonly taken = new Taken();

  constructor(
    private readonly dir: string,
    readonly port: number,
    private readonly center = 'mansoura-tc',
  ) {}

  async start(): Promise<void> {
    const conf = join(this.dir, 'mosquitto.conf');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(conf, `listener ${this.port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n`);
    this.proc = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'ignore'] });
    const ok = await waitUntil(async () => {
      const c = await mqtt.connectAsync({ host: '127.0.0.1', port: this.port, reconnectPeriod: 0, connectTimeout: 500 });
      await c.endAsync();
      return true;
    }, 10_000);
    if (!ok) throw new Error(`mosquitto did not start on port ${this.port}`);
    const consumer = mqtt.connect({ host: '127.0.0.1', port: this.port, clientId: 'chaos-central', clean: false, reconnectPeriod: 200 });
    this.consumer = consumer;
    consumer.on('message', (topic, payload) => {
      if (!topic.endsWith('/events')) return;
      const e = JSON.parse(payload.toString()) as { key: string; seq: number; type: string };
      this.taken.add(e);
    });
    await new Promise((r) => consumer.once('connect', r));
    await consumer.subscribeAsync(`qhub/centers/${this.center}/events`, { qos: 1 });
  }

  async stop(): Promise<void> {
    await this.consumer?.endAsync(true).catch(() => undefined);
    await stopProc(this.proc);
  }
}

export function stopProc(p: ChildProcess | undefined, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise<void>((r) => {
    if (!p || p.exitCode !== null || p.signalCode !== null) return r();
    p.once('exit', () => r());
    p.kill(sig);
  });
}

export interface Reply {
  leaf: string;
  body: Record<string, unknown>;
  attempts: number;
}

/**
 * A device as a real MQTT client that reconnects (every 200 ms) when the hub
 * goes away, and retries a request with the same id until the hub answers it
 * with anything but `storage_failed`/`busy`-like transient errors.
 */
export class Device {
  client?: MqttClient;
  private waiters = new Map<string, (r: { leaf: string; body: Record<string, unknown> }) => void>();
  connects = 0;

  constructor(
    readonly id: string,
    private readonly port: number,
  ) {}

  start(): Promise<void> {
    const client = mqtt.connect({
      host: '127.0.0.1',
      port: this.port,
      clientId: this.id,
      username: this.id,
      password: SECRETS[this.id]!,
      protocolVersion: 4,
      reconnectPeriod: 200,
      connectTimeout: 3000,
      will: { topic: `qhub/dev/${this.id}/status`, payload: Buffer.from('{"v":1,"state":"offline"}'), qos: 1, retain: true },
    });
    this.client = client;
    client.on('error', () => undefined);
    client.on('connect', () => {
      this.connects++;
      client.subscribe(`qhub/dev/${this.id}/+`, { qos: 1 }, () => undefined);
      client.publish(`qhub/dev/${this.id}/status`, JSON.stringify({ v: 1, state: 'online', model: 'chaos', fw: '0.0.1' }), { qos: 1, retain: true }, () => undefined);
    });
    client.on('message', (topic, payload) => {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(payload.toString()) as Record<string, unknown>;
      } catch {
        return;
      }
      const re = body.re;
      if (typeof re !== 'string') return;
      const w = this.waiters.get(re);
      if (w) w({ leaf: topic.split('/').at(-1)!, body });
    });
    return new Promise((resolve) => client.once('connect', () => resolve()));
  }

  /**
   * Sends `{v:1, id, ...body}` on `leaf` and waits for the reply carrying the
   * id; resends the same id every `retryMs` (and after a transient error)
   * until answered or `signal` aborts (then undefined: not acknowledged).
   */
  async request(leaf: string, id: string, body: Record<string, unknown>, signal: AbortSignal, retryMs = 1500, transient = ['storage_failed', 'rate_limited', 'busy']): Promise<Reply | undefined> {
    let attempts = 0;
    try {
      while (!signal.aborted) {
        const got = new Promise<{ leaf: string; body: Record<string, unknown> } | undefined>((resolve) => {
          const finish = (r: { leaf: string; body: Record<string, unknown> } | undefined) => {
            clearTimeout(t);
            signal.removeEventListener('abort', onAbort);
            resolve(r);
          };
          const t = setTimeout(() => finish(undefined), retryMs);
          const onAbort = () => finish(undefined);
          signal.addEventListener('abort', onAbort, { once: true });
          this.waiters.set(id, finish);
        });
        if (this.client?.connected) {
          attempts++;
          this.client.publish(`qhub/dev/${this.id}/${leaf}`, JSON.stringify({ v: 1, id, ...body }), { qos: 1 }, () => undefined);
        }
        const r = await got;
        if (!r) continue;
        if (r.leaf === 'error' && transient.includes(String(r.body.code ?? r.body.error))) {
          await sleep(200, signal);
          continue;
        }
        return { ...r, attempts };
      }
      return undefined;
    } finally {
      this.waiters.delete(id);
    }
  }

  async close(): Promise<void> {
    await this.client?.endAsync(true).catch(() => undefined);
  }
}

/** An acknowledged command: what the device was told. */
export interface Ack {
  device: string;
  id: string;
  kind: 'press' | 'call';
  /** The printed number (press) or the called number (call, may be null: nobody waited). */
  number: string | null;
  day?: string;
}

/** Every event of the log in a data directory (the hub stopped). */
export function readLog(dataDir: string): StoredEvent[] {
  const store = new Store(join(dataDir, 'qhub.db'));
  store.open();
  try {
    return [...store.replay()];
  } finally {
    store.close();
  }
}

export interface LogCheck {
  events: number;
  issued: number;
  gaps: number;
  lost: number;
  reused: number;
  /** The same press id issued twice (a retry not recognised). */
  doubled: number;
  problems: string[];
}

/**
 * The invariants on the log: seq gap-free from 1, every acknowledged press in
 * it as a ticket.issued with the acknowledged number (and every acknowledged
 * call as a ticket.called), no number given twice in a business day, no press
 * id issued twice.
 */
export function checkLog(events: StoredEvent[], acks: Ack[]): LogCheck {
  const problems: string[] = [];
  let gaps = 0;
  events.forEach((e, i) => {
    if (e.seq !== i + 1) gaps++;
  });
  if (gaps) problems.push(`the event log has ${gaps} events out of place (seq not 1, 2, 3 …); first at index ${events.findIndex((e, i) => e.seq !== i + 1)}`);
  const issuedByRef = new Map<string, StoredEvent[]>();
  const calledByRef = new Map<string, StoredEvent[]>();
  const issuedByRefDay = new Map<string, number>();
  const numbers = new Map<string, number>();
  let issued = 0;
  for (const e of events) {
    const ref = (e as { ref?: string }).ref;
    if (e.type === 'ticket.issued') {
      issued++;
      const k = `${e.day}/${(e as { number: string }).number}`;
      numbers.set(k, (numbers.get(k) ?? 0) + 1);
      if (ref) issuedByRef.set(ref, [...(issuedByRef.get(ref) ?? []), e]);
      if (ref) issuedByRefDay.set(`${e.day}|${ref}`, (issuedByRefDay.get(`${e.day}|${ref}`) ?? 0) + 1);
    } else if (e.type === 'ticket.called' && ref) calledByRef.set(ref, [...(calledByRef.get(ref) ?? []), e]);
  }
  const reused = [...numbers.values()].filter((n) => n > 1).length;
  if (reused) problems.push(`${reused} ticket numbers were given twice in the same business day: ${[...numbers].filter(([, n]) => n > 1).slice(0, 3).map(([k]) => k).join(', ')}`);
  // Within a business day; a retry whose ticket the rollover cancelled gets a new one by design (daemon/engine/engine.ts).
  const doubled = [...issuedByRefDay.values()].filter((n) => n > 1).length;
  if (doubled) problems.push(`${doubled} presses were issued twice under the same id in one business day (a retry not recognised)`);
  let lost = 0;
  const lostSample: string[] = [];
  for (const a of acks) {
    const ref = `${a.device}/${a.id}`;
    if (a.kind === 'press') {
      const all = (issuedByRef.get(ref) ?? []) as { number?: string; day: string }[];
      const e = all.find((x) => x.number === a.number && (!a.day || x.day === a.day)) ?? all[0];
      if (!e || e.number !== a.number) {
        lost++;
        lostSample.push(`${ref}→${a.number} (log: ${e?.number ?? 'nothing'})`);
      }
    } else if (a.number) {
      const e = calledByRef.get(ref)?.[0] as { number?: string } | undefined;
      if (!e || e.number !== a.number) {
        lost++;
        lostSample.push(`${ref} called ${a.number} (log: ${e?.number ?? 'nothing'})`);
      }
    }
  }
  if (lost) problems.push(`${lost} acknowledged commands are not in the log as acknowledged: ${lostSample.slice(0, 3).join('; ')}`);
  return { events: events.length, issued, gaps, lost, reused, doubled, problems };
}

/**
 * Dispensers pressing and keypads calling, each with one request in flight,
 * retried with its id until answered; runs until `signal` aborts.
 */
export class Load {
  readonly acks: Ack[] = [];
  refused = 0;
  readonly refusals: string[] = [];
  private seq = 0;
  private running: Promise<void>[] = [];

  constructor(
    readonly devices: Device[],
    private readonly tag: string,
    private readonly paceMs = 40,
  ) {}

  run(signal: AbortSignal): void {
    const services = ['intake', 'treasury', 'delivery'];
    this.running = this.devices.map(async (d, di) => {
      while (!signal.aborted) {
        const id = `${this.tag}-${d.id}-${++this.seq}`;
        if (d.id.startsWith('disp')) {
          const r = await d.request('press', id, { service: services[(this.seq + di) % services.length]! }, signal);
          if (r?.leaf === 'ticket') {
            const t = r.body.ticket as { t: string; day: string };
            this.acks.push({ device: d.id, id, kind: 'press', number: t.t, day: t.day });
          } else if (r) this.refuse(d.id, r);
        } else {
          const r = await d.request('cmd', id, { cmd: 'next' }, signal);
          if (r?.leaf === 'screen') this.acks.push({ device: d.id, id, kind: 'call', number: (r.body.t as string | null) ?? null });
          else if (r) this.refuse(d.id, r);
        }
        await sleep(this.paceMs + Math.random() * this.paceMs, signal);
      }
    });
  }

  private refuse(device: string, r: Reply): void {
    this.refused++;
    if (this.refusals.length < 5) this.refusals.push(`${device}: ${r.leaf} ${JSON.stringify(r.body).slice(0, 160)}`);
  }

  async done(): Promise<void> {
    await Promise.all(this.running);
  }
}

/** Kills whatever is still running, never throws. */
export class Children {
  private items: (() => Promise<unknown>)[] = [];
  add(fn: () => Promise<unknown>): void {
    this.items.push(fn);
  }
  async closeAll(): Promise<void> {
    for (const f of this.items.reverse()) await f().catch(() => undefined);
    this.items = [];
  }
}
