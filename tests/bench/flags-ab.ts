/**
 * Node flags side by side: two daemons (the bundle systemd starts, the
 * unit's flags plus A's or B's), each with the example center and all its
 * MQTT devices connected, driven in turns in the same minutes: per round a
 * dispenser press and a keypad `next` (reply latency, with every view the
 * call changes sent to the other devices), in blocks that alternate A, B,
 * A, B … so the machine's load falls on both alike. Reports per variant the
 * latency p50/p99, the daemon's CPU per round (utime + stime) and VmRSS at
 * the end, and B/A per block pair.
 *
 *   node dist/tests/bench/flags-ab.js --b="--lite-mode" [--a="..."] [--b-env K=V,...] [--blocks 10] [--rounds 100]
 *
 * --b-env: environment for B only (e.g. MALLOC_ARENA_MAX=2).
 * --a-entry / --b-entry: another build's script for that side, relative to
 * the checkout (e.g. `node daemon/bundle.mjs dist/bundleA` from an older
 * commit, then --a-entry dist/bundleA/qhub.js): two builds side by side.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connectDevice, exampleDevices, exampleSecrets, startHub, testCenter, type RunningHub, type TestDevice } from '../helpers/hub.js';
import { DAEMON_NODE_FLAGS, DAEMON_SCRIPT } from './flags.js';

const ROOT = new URL('../../', import.meta.url).pathname.replace(/dist\/$/, '');
const { values: args } = parseArgs({ options: { a: { type: 'string' }, b: { type: 'string' }, 'b-env': { type: 'string' }, 'a-entry': { type: 'string' }, 'b-entry': { type: 'string' }, blocks: { type: 'string' }, rounds: { type: 'string' } } });
const BLOCKS = Number(args.blocks ?? 10);
const ROUNDS = Number(args.rounds ?? 100);
const split = (s?: string) => (s ?? '').split(' ').filter(Boolean);

interface Side {
  name: string;
  entry: string;
  flags: string[];
  hub: RunningHub;
  disp: TestDevice;
  kp: TestDevice;
  devices: TestDevice[];
  ms: number[];
  blockP50: number[];
  cpuMs: number;
}

function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]!;
};
const r2 = (x: number) => Math.round(x * 100) / 100;

async function side(name: string, flags: string[], env: Record<string, string> = {}, entry = DAEMON_SCRIPT): Promise<Side> {
  // As the bench's generated centers: the per-device rate limit raised, the keypad and the dispenser press flat out on purpose.
  const { dir, config } = testCenter((doc) => doc.setIn(['hub', 'mqtt'], doc.createNode({ host: '127.0.0.1', port: 0, messagesPerSecond: 10000, burst: 10000 })));
  const hub = await startHub(config, join(dir, 'data'), { QHUB_LOG_LEVEL: 'info', QHUB_SUPERVISOR_SECRET: 'bench-supervisor-secret', ...env }, { script: join(ROOT, entry), nodeFlags: [...DAEMON_NODE_FLAGS, ...flags] });
  const secrets = exampleSecrets();
  const devices: TestDevice[] = [];
  for (const d of exampleDevices().filter((x) => x.transport === 'mqtt')) devices.push(await connectDevice(hub.mqttPort, d.id, secrets[d.id]!));
  const disp = devices.find((d) => d.id === 'disp-1')!;
  const kp = devices.find((d) => d.id === 'kp-1')!;
  return { name, entry, flags, hub, disp, kp, devices, ms: [], blockP50: [], cpuMs: 0 };
}

async function block(s: Side, rounds: number, measure: boolean): Promise<void> {
  const c0 = cpuMs(s.hub.proc.pid!);
  const got: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let t = performance.now();
    await s.disp.request('press', { service: 'intake' }, 'ticket');
    got.push(performance.now() - t);
    t = performance.now();
    await s.kp.request('cmd', { cmd: 'next' }, 'screen');
    got.push(performance.now() - t);
  }
  if (!measure) return;
  s.cpuMs += cpuMs(s.hub.proc.pid!) - c0;
  s.ms.push(...got);
  s.blockP50.push(pct(got, 50));
}

const A = await side('A', split(args.a), {}, args['a-entry']);
const bEnv = Object.fromEntries((args['b-env'] ?? '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const B = await side('B', split(args.b), bEnv, args['b-entry']);
// Warm both up (JIT, caches) before anything counts.
for (const s of [A, B]) await block(s, ROUNDS, false);
for (let i = 0; i < BLOCKS; i++) for (const s of i % 2 ? [B, A] : [A, B]) await block(s, ROUNDS, true);
const out: Record<string, unknown> = {};
for (const s of [A, B]) {
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${s.hub.proc.pid}/status`, 'utf8'))?.[1]) / 1024;
  out[s.name] = { script: s.entry, flags: [...DAEMON_NODE_FLAGS, ...s.flags].join(' '), ...(s.name === 'B' && Object.keys(bEnv).length ? { env: bEnv } : {}), p50: r2(pct(s.ms, 50)), p99: r2(pct(s.ms, 99)), cpuMsPerRound: r2(s.cpuMs / (BLOCKS * ROUNDS)), rssMiB: r2(rss) };
}
const ratios = A.blockP50.map((a, i) => B.blockP50[i]! / a).sort((x, y) => x - y);
out.bOverA = { p50Median: r2(pct(ratios, 50)), range: [r2(ratios[0]!), r2(ratios[ratios.length - 1]!)] };
out.loadavg = readFileSync('/proc/loadavg', 'utf8').trim();
console.log(JSON.stringify(out));
for (const s of [A, B]) {
  await Promise.all(s.devices.map((d) => d.close()));
  await s.hub.stop();
}
