/**
 * Test helpers: the real daemon as a child process (compiled `qhub start`),
 * on ephemeral ports, and devices as real mqtt.js clients over TCP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { parseDocument } from 'yaml';

// The repository root, from the sources (vitest) or from their compiled copy in dist/ (npm run chaos).
const ROOT = new URL('../../', import.meta.url).pathname.replace(/dist\/$/, '');
export const CLI = join(ROOT, 'dist/daemon/cli.js');
export const EXAMPLE = join(ROOT, 'config/center.example.yaml');

export function exampleSecrets(): Record<string, string> {
  return parseDocument(readFileSync(EXAMPLE.replace('.yaml', '.secrets.yaml'), 'utf8')).toJS() as Record<string, string>;
}

/** The example center's devices: id, kind and transport type (`mqtt` when not given). */
export function exampleDevices(): { id: string; kind: string; transport: string }[] {
  const devices = (parseDocument(readFileSync(EXAMPLE, 'utf8')).toJS() as { devices: { id: string; kind: string; transport?: { type?: string } }[] }).devices;
  return devices.map((d) => ({ id: d.id, kind: d.kind, transport: d.transport?.type ?? 'mqtt' }));
}

/** Takes the hall's browser pages (web board and speaker) out of a test center: for tests of the MQTT and wired devices only. */
export function withoutWebDevices(doc: ReturnType<typeof parseDocument>): void {
  const devices = doc.get('devices') as { items: { get(k: string, keepScalar?: boolean): unknown }[] };
  devices.items = devices.items.filter((d) => (d.get('transport') as { get?(k: string): unknown } | undefined)?.get?.('type') !== 'web');
}

/** A copy of the example center on ephemeral loopback ports, optionally edited. */
export function testCenter(edit?: (doc: ReturnType<typeof parseDocument>, dir: string) => void): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'qhub-test-'));
  const doc = parseDocument(readFileSync(EXAMPLE, 'utf8'));
  doc.setIn(['hub', 'mqtt'], doc.createNode({ host: '127.0.0.1', port: 0 }));
  doc.setIn(['hub', 'http'], doc.createNode({ host: '127.0.0.1', port: 0 }));
  // Closed all week: device alerts (raised only in opening hours) would otherwise depend on when the suite runs.
  // A test about alerts sets its own hours.
  doc.setIn(['center', 'hours'], doc.createNode(Object.fromEntries(['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'].map((d) => [d, 'closed']))));
  edit?.(doc, dir);
  const config = join(dir, 'center.yaml');
  writeFileSync(config, doc.toString());
  copyFileSync(EXAMPLE.replace('.yaml', '.secrets.yaml'), join(dir, 'center.example.secrets.yaml'));
  return { dir, config };
}

export interface RunningHub {
  proc: ChildProcess;
  mqttPort: number;
  httpPort: number;
  logs: Record<string, unknown>[];
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: a power cut. */
  kill(): Promise<void>;
}

/** `run`: another script (e.g. the bundle systemd starts, dist/bundle/qhub.js) and node flags; default tsc's dist/daemon/cli.js. */
export async function startHub(config: string, dataDir: string, extraEnv: Record<string, string> = {}, run: { script?: string; nodeFlags?: string[] } = {}): Promise<RunningHub> {
  const script = run.script ?? CLI;
  if (!existsSync(script)) throw new Error(`${script} is missing: run "npm run build" first`);
  const proc = spawn(process.execPath, [...(run.nodeFlags ?? []), script, 'start', '--config', config, '--data', dataDir, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Not under systemd, not production: the demo secrets of the example center are allowed (with a warning).
    env: { ...process.env, INVOCATION_ID: '', NODE_ENV: 'test', QHUB_LOG_LEVEL: 'debug', ...extraEnv },
  });
  const logs: Record<string, unknown>[] = [];
  let buf = '';
  let stderr = '';
  // A hook that times out before the hub is ready never gets a handle to stop it: the daemon must not outlive the test process
  // (seen on a loaded machine: one left running per timed-out beforeAll, loading the machine further).
  const reap = () => proc.kill('SIGKILL');
  process.once('exit', reap);
  const exited = new Promise<number | null>((r) =>
    proc.on('exit', (code) => {
      process.off('exit', reap);
      r(code);
    }),
  );
  const ready = new Promise<{ mqtt: number; http: number }>((resolve, reject) => {
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const j = JSON.parse(line) as Record<string, unknown>;
          logs.push(j);
          if (j.msg === 'qhub ready') resolve({ mqtt: j.mqtt as number, http: j.http as number });
        } catch {
          /* not a log line */
        }
      }
    });
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    void exited.then((code) => reject(new Error(`hub exited with ${code} before it was ready: ${stderr}\n${logs.map((l) => l.msg).join('\n')}`)));
  });
  const ports = await ready;
  return {
    proc,
    mqttPort: ports.mqtt,
    httpPort: ports.http,
    logs,
    async stop() {
      proc.kill('SIGTERM');
      return exited;
    },
    async kill() {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

export interface TestDevice {
  id: string;
  client: MqttClient;
  messages: { topic: string; body: Record<string, unknown>; at: number }[];
  /** Index of the next message to arrive: pass it as `since` to ignore what came before. */
  mark(): number;
  /** Publishes a request and waits for the reply (on `replyLeaf` or `error`) carrying the same id. */
  request(leaf: string, body: Record<string, unknown>, replyLeaf: string, timeoutMs?: number): Promise<{ leaf: string; body: Record<string, unknown> }>;
  /** Waits for a message on one of its topics matching a predicate (including ones already received from index `since`). */
  waitFor(leaf: string, pred?: (b: Record<string, unknown>) => boolean, timeoutMs?: number, since?: number): Promise<Record<string, unknown>>;
  latest(leaf: string): Record<string, unknown> | undefined;
  close(): Promise<void>;
}

let counter = 0;

export async function connectDevice(port: number, id: string, secret: string, opts: { subscribe?: boolean } = {}): Promise<TestDevice> {
  const client = mqtt.connect({
    host: '127.0.0.1',
    port,
    clientId: id,
    username: id,
    password: secret,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    will: { topic: `qhub/dev/${id}/status`, payload: Buffer.from('{"v":1,"state":"offline"}'), qos: 1, retain: true },
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  (client.stream as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
  const messages: TestDevice['messages'] = [];
  const waiters = new Set<() => void>();
  client.on('message', (topic, payload) => {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(payload.toString()) as Record<string, unknown>;
    } catch {
      body = { raw: payload.toString() };
    }
    messages.push({ topic, body, at: Date.now() });
    for (const w of waiters) w();
  });
  if (opts.subscribe !== false) await client.subscribeAsync(`qhub/dev/${id}/+`, { qos: 1 });
  await client.publishAsync(`qhub/dev/${id}/status`, JSON.stringify({ v: 1, state: 'online', model: 'test', fw: '0.0.1' }), { qos: 1, retain: true });
  const leafOf = (topic: string) => topic.split('/').at(-1)!;
  const dev: TestDevice = {
    id,
    client,
    messages,
    mark: () => messages.length,
    // Deadlines sized for a loaded machine (shared CI runners, other suites beside this one); a passing wait ends at its message.
    waitFor(leaf, pred = () => true, timeoutMs = 15_000, since = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = messages.find((x, i) => i >= since && leafOf(x.topic) === leaf && x.topic.startsWith(`qhub/dev/${id}/`) && pred(x.body));
          if (m) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(m.body);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${id}: no ${leaf} message matching within ${timeoutMs} ms; got ${JSON.stringify(messages.slice(-5))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async request(leaf, body, replyLeaf, timeoutMs = 15_000) {
      const rid = (body.id as string | undefined) ?? `t${process.pid}-${++counter}`;
      const since = messages.length;
      const p = Promise.race([
        dev.waitFor(replyLeaf, (b) => b.re === rid, timeoutMs, since).then((b) => ({ leaf: replyLeaf, body: b })),
        dev.waitFor('error', (b) => b.re === rid, timeoutMs, since).then((b) => ({ leaf: 'error', body: b })),
      ]);
      await client.publishAsync(`qhub/dev/${id}/${leaf}`, JSON.stringify({ v: 1, id: rid, ...body }), { qos: 1 });
      return p;
    },
    latest(leaf) {
      return [...messages].reverse().find((m) => leafOf(m.topic) === leaf)?.body;
    },
    async close() {
      await client.endAsync(true).catch(() => undefined);
    },
  };
  return dev;
}

/** Tries to connect and returns the CONNACK error code (5 = not authorized), or 0 on success. */
export function connackCode(port: number, id: string, username: string, password: string): Promise<number> {
  return new Promise((resolve) => {
    const client = mqtt.connect({ host: '127.0.0.1', port, clientId: id, username, password, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 });
    client.once('connect', () => {
      client.end(true);
      resolve(0);
    });
    client.once('error', (e: Error & { code?: number }) => {
      client.end(true);
      resolve(typeof e.code === 'number' ? e.code : -1);
    });
  });
}
