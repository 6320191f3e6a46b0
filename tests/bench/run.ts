/**
 * `npm run bench`: figures for the hub's hot paths, each with a baseline
 * measured in the same run on the same machine, so the ratios mean
 * something on a shared or slower machine (a Pi's SD card).
 *
 *  1. A ticket press committed by the core (engine + SQLite, synchronous=FULL)
 *     vs. a bare one-row SQLite commit with the same settings.
 *  2. A dispenser press → ticket reply through the embedded broker, with the
 *     device's socket set to TCP_NODELAY (as docs/PROTOCOL.md tells firmware)
 *     vs. left with Nagle's algorithm on.
 *  3. Memory: the hub's heap after a busy day's worth of tickets.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import pino from 'pino';
import { loadCenter } from '../../config/load.js';
import { Core } from '../../daemon/core/core.js';
import { createHub } from '../../daemon/hub.js';

const N = Number(process.env.BENCH_N ?? 2000);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const center = loadCenter(join(ROOT, 'config/center.example.yaml'), { ...process.env, QHUB_SUPERVISOR_SECRET: 'bench-secret-123' });
const config = structuredClone(center.config);
config.hub.mqtt.port = 0;
config.hub.mqtt.host = '127.0.0.1';
config.hub.mqtt.messagesPerSecond = 100_000;
config.hub.mqtt.burst = 100_000;
config.services.forEach((s) => (s.last = 99_999));

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { p50: q(0.5), p99: q(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}
const fmt = (x: number) => `${x.toFixed(3)} ms`;
function row(name: string, ms: number[]) {
  const st = stats(ms);
  console.log(`${name.padEnd(44)} p50 ${fmt(st.p50).padStart(10)}  p99 ${fmt(st.p99).padStart(10)}  mean ${fmt(st.mean).padStart(10)}`);
  return st;
}

// 1. Commit path ------------------------------------------------------------
const dir = mkdtempSync(join(tmpdir(), 'qhub-bench-'));
const raw = new Database(join(dir, 'raw.db'));
raw.pragma('journal_mode = WAL');
raw.pragma('synchronous = FULL');
raw.exec('CREATE TABLE e (seq INTEGER PRIMARY KEY, body TEXT)');
const ins = raw.prepare('INSERT INTO e (seq, body) VALUES (?, ?)');
const rawMs: number[] = [];
for (let i = 1; i <= N; i++) {
  const t0 = performance.now();
  raw.transaction(() => ins.run(i, '{"type":"ticket.issued","ticket":"2026-11-22/intake/1","number":"A001"}'))();
  rawMs.push(performance.now() - t0);
}
raw.close();

let now = Date.UTC(2026, 10, 22, 7, 0);
const core = new Core({ config, dataDir: join(dir, 'core'), clock: () => now });
await core.start();
const coreMs: number[] = [];
const services = config.services.map((s) => s.id);
for (let i = 0; i < N; i++) {
  now += 1000;
  const t0 = performance.now();
  const r = await core.submit({ type: 'issue', service: services[i % services.length]!, source: 'bench', id: String(i) });
  coreMs.push(performance.now() - t0);
  if (!r.ok) throw new Error(r.error.message);
}
console.log(`\n1. Durable commit of one command (${N} each, WAL, synchronous=FULL)`);
const b1 = row('baseline: bare SQLite one-row commit', rawMs);
const c1 = row('qhub: ticket issued (engine + event log)', coreMs);
console.log(`   ratio qhub/baseline p50 ${(c1.p50 / b1.p50).toFixed(2)}x`);
core.stop();

// 2. Broker round trip ------------------------------------------------------
const log = pino({ level: 'silent' });
config.hub.http = { host: '127.0.0.1', port: 0 };
const hub = createHub({ center: { config, secrets: center.secrets }, dataDir: join(dir, 'hub'), log, version: 'bench', clock: () => now });
await hub.start();
const broker = hub.broker;

async function roundTrips(id: string, noDelay: boolean, count: number): Promise<number[]> {
  const c = await mqtt.connectAsync({ host: '127.0.0.1', port: broker.ports.mqtt!, clientId: id, username: id, password: center.secrets.get(id)!, protocolVersion: 4 });
  (c.stream as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(noDelay);
  await c.subscribeAsync(`qhub/dev/${id}/ticket`, { qos: 1 });
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const rid = `${id}-${noDelay}-${i}`;
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      const on = (_t: string, p: Buffer) => {
        if ((JSON.parse(p.toString()) as { re: string }).re === rid) {
          c.off('message', on);
          resolve();
        }
      };
      c.on('message', on);
      c.publish(`qhub/dev/${id}/press`, JSON.stringify({ v: 1, id: rid, service: 'intake' }), { qos: 1 });
    });
    out.push(performance.now() - t0);
  }
  await c.endAsync();
  return out;
}
const M = Math.min(200, N);
console.log(`\n2. Dispenser press → ticket reply through the embedded broker, QoS 1 (${M} each; hub sockets always TCP_NODELAY)`);
const nagle = row('baseline: device socket with Nagle on', await roundTrips('disp-1', false, Math.min(40, M)));
const fast = row('qhub protocol: device socket TCP_NODELAY', await roundTrips('disp-2', true, M));
console.log(`   ratio Nagle/no-delay p50 ${(nagle.p50 / fast.p50).toFixed(1)}x`);
await hub.stop();

// 3. Memory -----------------------------------------------------------------
global.gc?.();
const heap = process.memoryUsage();
console.log(`\n3. Memory after ${N} + ${M + 40} tickets in this process: heap used ${(heap.heapUsed / 2 ** 20).toFixed(1)} MiB, rss ${(heap.rss / 2 ** 20).toFixed(1)} MiB`);
console.log(`   state snapshot size: ${(readFileSync(join(dir, 'core', 'qhub.db')).length / 2 ** 20).toFixed(2)} MiB database after ${N} tickets`);
