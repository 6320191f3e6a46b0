/**
 * `npm run bench`: the real daemon as its own process on free ports, a
 * generated center of N windows and 4N devices as real mqtt.js clients over
 * loopback (TCP_NODELAY on both ends), and in the same run the baselines a
 * call cannot beat: a bare Aedes relay round trip (tests/bench/relay.ts) and
 * one synchronous=FULL SQLite commit. Prints a table with ratios to those
 * baselines and each target met or not; writes bench/latest.json (keys in
 * docs/BENCHMARKS.md).
 *
 *   node dist/tests/bench/run.js [--quick] [--out FILE] [--windows 10,50,200] [--layouts spread,oneService] [--no-pi]
 *
 * --quick (CI): one small center, few samples; proves the bench works, never
 * judges speed.
 */
import Database from 'better-sqlite3';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent as HttpAgent, createServer as createHttpServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { loadCenter } from '../../config/load.js';
import { hashPassword } from '../../daemon/api/auth.js';
import { Core } from '../../daemon/core/core.js';
import { DAEMON_ENV, DAEMON_NODE_FLAGS, DAEMON_SCRIPT } from './flags.js';
import { daemonReady } from './ready.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The script and node flags systemd/qhub.service starts (the bundle); BENCH_DAEMON_ENTRY=dist/daemon/cli.js runs tsc's output instead. */
const CLI = join(ROOT, process.env.BENCH_DAEMON_ENTRY ?? DAEMON_SCRIPT);
const RELAY = join(ROOT, 'dist/tests/bench/relay.js');

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean' }, out: { type: 'string' }, windows: { type: 'string' }, layouts: { type: 'string' }, 'no-pi': { type: 'boolean' } },
});
const QUICK = !!args.quick;
const SIZES = (args.windows ?? (QUICK ? '10' : '10,50,200')).split(',').map(Number);
/**
 * Layouts of the generated center: `spread` (every window serves two of the
 * five services, each service by 2N/5 windows) and `oneService` (as the seeds'
 * centers: 40 % of the windows serve the one intake service alone, the rest
 * spread over the other four). `oneService` runs at 50 windows unless
 * `--layouts` says otherwise (e.g. `--layouts oneService --windows 50`).
 */
type Layout = 'spread' | 'oneService';
const LAYOUTS: Layout[] | undefined = args.layouts?.split(',').map((l) => {
  if (l !== 'spread' && l !== 'oneService') throw new Error(`--layouts: "${l}" is not spread or oneService`);
  return l;
});
const RUNS: { n: number; layout: Layout }[] = LAYOUTS
  ? SIZES.flatMap((n) => LAYOUTS.map((layout) => ({ n, layout })))
  : [...SIZES.map((n) => ({ n, layout: 'spread' as const })), ...(QUICK || !SIZES.includes(50) ? [] : [{ n: 50, layout: 'oneService' as const }])];
const DAY_TICKETS = QUICK ? 400 : 5000;
const QUIET_SAMPLES = QUICK ? 15 : 60;
const OUT = args.out ?? join(ROOT, 'bench/latest.json');
const work = mkdtempSync(join(tmpdir(), 'qhub-bench-'));
const SERVICES = ['intake', 'treasury', 'delivery', 'inquiry', 'complaints'];
/** A supervisor of every bench center: the API's calls are measured beside the keypads'. */
const BENCH_PASSWORD = 'bench-password';
const BENCH_HASH = await hashPassword(BENCH_PASSWORD);

// ------------------------------------------------------------------ figures

interface Dist {
  n: number;
  p50: number;
  p99: number;
  max: number;
}
function dist(ms: number[]): Dist {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  return { n: s.length, p50: round(q(0.5)), p99: round(q(0.99)), max: round(s.at(-1) ?? NaN) };
}
const round = (x: number) => Math.round(x * 1000) / 1000;
const mib = (kb: number) => Math.round((kb / 1024) * 10) / 10;

/** Resident memory split: anonymous (heap, native allocations) and file-backed (the node binary, ICU data, native modules). */
function residentParts(pid: number): { anonMiB: number; fileMiB: number } {
  const r = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(r)?.[1] ?? NaN);
  return { anonMiB: mib(kb('Anonymous')), fileMiB: mib(kb('Rss') - kb('Anonymous')) };
}

function procStat(pid: number): { cpuMs: number; rssKb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]); // utime + stime
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  return { cpuMs: (ticks * 1000) / 100, rssKb };
}

// ------------------------------------------------------------------ baselines

/** The pause between two quiet calls (and between the floor's samples taken beside them). */
const QUIET_GAP_MS = 5;

/**
 * The floor's two parts, kept open for the whole run: a bare Aedes relay in
 * its own process with one client, and a one-row synchronous=FULL commit.
 * `sample()` takes one of each. The quiet calls are judged against samples
 * taken between them (interleaved, at their pace), because on this machine a
 * round trip after a pause costs about twice one made back to back, and how
 * much moves from minute to minute (docs/BENCHMARKS.md, "Issue 21, fourth
 * pass"); a floor measured at another moment or pace is another machine.
 */
interface Floor {
  relayOnce(): Promise<number>;
  commitOnce(): number;
  close(): Promise<void>;
}

async function openFloor(): Promise<Floor> {
  const proc = spawn(process.execPath, [RELAY], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => {
    let buf = '';
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const m = /PORT (\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
  });
  const c = await mqtt.connectAsync({ host: '127.0.0.1', port, clientId: 'relay-client', protocolVersion: 4 });
  (c.stream as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
  await c.subscribeAsync('bench/res/relay-client', { qos: 1 });
  const body = JSON.stringify({ v: 1, id: 'k-000000', cmd: 'next' });
  const db = new Database(join(work, 'commit.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE e (seq INTEGER PRIMARY KEY, body TEXT)');
  const ins = db.prepare('INSERT INTO e (seq, body) VALUES (?, ?)');
  const commit = db.transaction((seq: number) => ins.run(seq, '{"type":"ticket.called","ticket":"2026-11-22/intake/1","number":"A001","window":3}'));
  let seq = 0;
  const floor: Floor = {
    relayOnce: () =>
      new Promise<number>((resolve) => {
        const t0 = performance.now();
        c.once('message', () => resolve(performance.now() - t0));
        c.publish('bench/req/relay-client', body, { qos: 1 });
      }),
    commitOnce: () => {
      const t0 = performance.now();
      commit(++seq);
      return performance.now() - t0;
    },
    close: async () => {
      await c.endAsync();
      proc.kill('SIGTERM');
      db.close();
    },
  };
  for (let i = 0; i < 20; i++) (await floor.relayOnce(), floor.commitOnce()); // warms the JIT
  return floor;
}

/** `samples` of each part of the floor, `gapMs` apart. */
async function floorAlone(floor: Floor, samples: number, gapMs: number): Promise<{ relay: Dist; commit: Dist }> {
  const relay: number[] = [];
  const commit: number[] = [];
  for (let i = 0; i < samples; i++) {
    relay.push(await floor.relayOnce());
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
  }
  for (let i = 0; i < samples; i++) {
    commit.push(floor.commitOnce());
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
  }
  return { relay: dist(relay), commit: dist(commit) };
}

// ------------------------------------------------------------------ a generated center

interface Center {
  n: number;
  dir: string;
  config: string;
  secrets: Record<string, string>;
  keypads: { id: string; window: number }[];
  displays: { id: string; window: number }[];
  boards: { id: string; zone: string }[];
  dispensers: string[];
  speakers: string[];
  zoneOf: (w: number) => string;
  layout: Layout;
  /** The services presses cycle through: one entry per window (its first service), so each service's tickets follow the windows that call them. */
  mix: string[];
  /** Per window, the services it serves. */
  servicesOf: (w: number) => string[];
}

function generate(n: number, layout: Layout = 'spread', name = `center-${n}${layout === 'spread' ? '' : `-${layout}`}`): Center {
  const dir = join(work, name);
  const intake = Math.round(0.4 * n);
  const servicesOf = (w: number): string[] =>
    layout === 'spread' ? [SERVICES[(w - 1) % 5]!, SERVICES[w % 5]!] : w <= intake ? ['intake'] : [SERVICES[1 + ((w - 1) % 4)]!, SERVICES[1 + (w % 4)]!];
  mkdirSync(dir, { recursive: true });
  const zones = Math.max(1, Math.ceil(n / 10));
  const zoneOf = (w: number) => `z${(w - 1) % zones}`;
  const windows = Array.from({ length: n }, (_, i) => i + 1);
  const c: Center = {
    n,
    dir,
    config: join(dir, 'center.yaml'),
    secrets: {},
    keypads: windows.map((w) => ({ id: `kp-${w}`, window: w })),
    displays: windows.map((w) => ({ id: `wd-${w}`, window: w })),
    boards: Array.from({ length: n }, (_, i) => ({ id: `board-${i + 1}`, zone: `z${i % zones}` })),
    dispensers: Array.from({ length: Math.max(1, n / 2) }, (_, i) => `disp-${i + 1}`),
    speakers: Array.from({ length: Math.max(1, n / 2) }, (_, i) => `spk-${i + 1}`),
    zoneOf,
    layout,
    mix: windows.map((w) => servicesOf(w)[0]!),
    servicesOf,
  };
  const lines = [
    'version: 1',
    `center: {id: bench-${n}, name: {ar: مركز القياس}, timezone: Africa/Cairo, day: {rollover: "03:00"}}`,
    'queue: {priority: {rule: always}}',
    'services:',
    ...SERVICES.map((s, i) => `  - {id: ${s}, name: {ar: ${s}}, prefix: ${'ABCDE'[i]}, first: 1, last: 9999}`),
    'windows:',
    ...windows.map((w) => `  - {number: ${w}, kind: intake, services: [${servicesOf(w).join(', ')}], zone: ${zoneOf(w)}}`),
    'secrets: center.secrets.yaml',
    'devices:',
    ...c.keypads.map((k) => `  - {id: ${k.id}, kind: keypad, model: qhub-keypad, bind: {window: ${k.window}}}`),
    ...c.displays.map((d) => `  - {id: ${d.id}, kind: display, model: qhub-window-display, bind: {window: ${d.window}}}`),
    ...c.boards.map((b) => `  - {id: ${b.id}, kind: board, model: qhub-board-8row, bind: {zone: ${b.zone}}}`),
    ...c.dispensers.map((d) => `  - {id: ${d}, kind: dispenser, model: qhub-dispenser-5, bind: {services: [${SERVICES.join(', ')}]}}`),
    ...c.speakers.map((s, i) => `  - {id: ${s}, kind: speaker, model: qhub-speaker, bind: {zone: z${i % zones}}}`),
    // The per-device rate limit protects the hub from a stuck device; here dispensers press flat out on purpose.
    `hub: {mqtt: {host: 127.0.0.1, port: 0, messagesPerSecond: 10000, burst: 10000}, http: {host: 127.0.0.1, port: 0}, users: [{name: bench, role: supervisor, password: "${BENCH_HASH}"}]}`,
  ];
  writeFileSync(c.config, lines.join('\n') + '\n');
  const ids = [...c.keypads.map((k) => k.id), ...c.displays.map((d) => d.id), ...c.boards.map((b) => b.id), ...c.dispensers, ...c.speakers];
  for (const id of ids) c.secrets[id] = `bench-secret-${id}`;
  writeFileSync(join(dir, 'center.secrets.yaml'), ids.map((id) => `${id}: ${c.secrets[id]}`).join('\n') + '\n');
  return c;
}

// ------------------------------------------------------------------ the daemon

interface Daemon {
  proc: ChildProcess;
  mqtt: number;
  http: number;
  startMs: number;
  stop(): Promise<void>;
}

async function startDaemon(c: Center, wrap: string[] = []): Promise<Daemon> {
  // BENCH_DAEMON_FLAGS adds node flags, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" for a profile of the daemon.
  const cmd = [...DAEMON_NODE_FLAGS, ...(process.env.BENCH_DAEMON_FLAGS?.split(' ').filter(Boolean) ?? []), CLI, 'start', '--config', c.config, '--data', join(c.dir, 'data'), '--json'];
  const t0 = performance.now();
  // `wrap`: a command the daemon runs under (taskset, a shell that enters a cgroup and execs it).
  // BENCH_WRAP: the same for every start, e.g. "strace -f -tt -o /tmp/hub.strace" (used when `wrap` is empty).
  const argv = [...(wrap.length ? wrap : (process.env.BENCH_WRAP?.split(' ').filter(Boolean) ?? [])), process.execPath, ...cmd];
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], env: { ...DAEMON_ENV, ...process.env, NODE_ENV: 'bench', INVOCATION_ID: '' } });
  const ports = await daemonReady(proc, (line) => {
    if (line.includes('"level":50') || line.includes('"level":60')) process.stderr.write(`daemon: ${line}\n`);
  });
  const startMs = performance.now() - t0;
  return {
    proc,
    mqtt: ports.mqtt,
    http: ports.http,
    startMs,
    stop: () =>
      new Promise<void>((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

// ------------------------------------------------------------------ devices

interface Dev {
  id: string;
  c: MqttClient;
  /** Every message, with its arrival time; the text is parsed only when a figure needs a field (the bench's own CPU must not weigh on what it measures). */
  inbox: { leaf: string; text: string; at: number }[];
  waiters: Set<() => void>;
}

async function connect(port: number, id: string, secret: string): Promise<Dev> {
  const c = await mqtt.connectAsync({ host: '127.0.0.1', port, clientId: id, username: id, password: secret, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 30_000 });
  (c.stream as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
  const dev: Dev = { id, c, inbox: [], waiters: new Set() };
  c.on('message', (topic, payload) => {
    dev.inbox.push({ leaf: topic.slice(topic.lastIndexOf('/') + 1), text: payload.toString(), at: performance.now() });
    for (const w of dev.waiters) w();
  });
  await c.subscribeAsync(`qhub/dev/${id}/+`, { qos: 1 });
  await c.publishAsync(`qhub/dev/${id}/status`, JSON.stringify({ v: 1, state: 'online', model: 'bench', fw: 'bench' }), { qos: 1, retain: true });
  return dev;
}

function waitFor(dev: Dev, pred: (m: Dev['inbox'][number]) => boolean, since: number, timeoutMs = 20_000): Promise<Dev['inbox'][number]> {
  return new Promise((resolve, reject) => {
    const check = () => {
      for (let i = since; i < dev.inbox.length; i++) {
        const m = dev.inbox[i]!;
        if (pred(m)) {
          dev.waiters.delete(check);
          clearTimeout(timer);
          return resolve(m);
        }
      }
    };
    const timer = setTimeout(() => {
      dev.waiters.delete(check);
      reject(new Error(`${dev.id}: timed out`));
    }, timeoutMs);
    dev.waiters.add(check);
    check();
  });
}

let rid = 0;
/** A keypad "next": the time to its reply, to its window display and (optionally) to its zone's board flash. */
async function callNext(kp: Dev, wd: Dev, board?: Dev): Promise<{ reply: number; display: number; board?: number; called: boolean }> {
  const id = `b${++rid}`;
  const marks = [kp.inbox.length, wd.inbox.length, board?.inbox.length ?? 0];
  const t0 = performance.now();
  kp.c.publish(`qhub/dev/${kp.id}/cmd`, JSON.stringify({ v: 1, id, cmd: 'next' }), { qos: 1 });
  const re = `"re":"${id}"`;
  const reply = await waitFor(kp, (m) => (m.leaf === 'screen' || m.leaf === 'error') && m.text.includes(re), marks[0]!);
  if (reply.leaf === 'error') throw new Error(`${kp.id}: next refused: ${reply.text}`);
  const t = (JSON.parse(reply.text) as { t: string | null }).t;
  if (!t) return { reply: reply.at - t0, display: NaN, called: false };
  const shown = `"t":"${t}"`;
  const flashed = `"flash":{"t":"${t}"`;
  const disp = await waitFor(wd, (m) => m.leaf === 'display' && m.text.includes(shown), marks[1]!);
  const b = board ? await waitFor(board, (m) => m.leaf === 'display' && m.text.includes(flashed), marks[2]!) : undefined;
  return { reply: reply.at - t0, display: disp.at - t0, ...(b ? { board: b.at - t0 } : {}), called: true };
}

async function press(d: Dev, service: string): Promise<number> {
  const id = `p${++rid}`;
  const mark = d.inbox.length;
  const t0 = performance.now();
  d.c.publish(`qhub/dev/${d.id}/press`, JSON.stringify({ v: 1, id, service }), { qos: 1 });
  const re = `"re":"${id}"`;
  const m = await waitFor(d, (x) => (x.leaf === 'ticket' || x.leaf === 'error') && x.text.includes(re), mark);
  if (m.leaf === 'error') throw new Error(`${d.id}: press refused: ${m.text}`);
  return m.at - t0;
}

/** Every dispenser presses as fast as its tickets come back until `total` tickets exist; returns tickets/s and press latencies. */
async function flatOut(dispensers: Dev[], total: number, mix: string[] = SERVICES): Promise<{ perSecond: number; latency: Dist; issued: number }> {
  let issued = 0;
  const lat: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    dispensers.map(async (d, k) => {
      for (let i = k; issued < total; i++) {
        issued++;
        lat.push(await press(d, mix[i % mix.length]!));
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  return { perSecond: Math.round(issued / s), latency: dist(lat), issued };
}

/**
 * The API calls' one kept-alive connection. node:http, not fetch: undici's
 * fetch added 1.1–1.8 ms per request in this process (answer p50 5.7–6.5 ms
 * with fetch against 4.0–4.6 with node:http, runs in turns), which is the
 * bench's cost, not the hub's.
 */
const KEEP_ALIVE = new HttpAgent({ keepAlive: true, maxSockets: 1 });

/** An API "next" (POST /api/v1/windows.next with a bearer token, a kept-alive connection): the time to its answer and to the zone's board flash. */
async function apiNext(http: number, token: string, w: number, board: Dev): Promise<{ reply: number; board: number; called: boolean }> {
  const mark = board.inbox.length;
  const t0 = performance.now();
  const payload = JSON.stringify({ window: w });
  const [status, body] = await new Promise<[number, { ticket?: { number: string } }]>((resolve, reject) => {
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
    const req = httpRequest({ host: '127.0.0.1', port: http, path: '/api/v1/windows.next', method: 'POST', agent: KEEP_ALIVE, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve([res.statusCode ?? 0, JSON.parse(Buffer.concat(chunks).toString())]));
    });
    req.on('error', reject);
    req.end(payload);
  });
  const reply = performance.now() - t0;
  if (status !== 200) throw new Error(`API next refused: ${JSON.stringify(body)}`);
  if (!body.ticket) return { reply, board: NaN, called: false };
  const flashed = `"flash":{"t":"${body.ticket.number}"`;
  const b = await waitFor(board, (m) => m.leaf === 'display' && m.text.includes(flashed), mark);
  return { reply, board: b.at - t0, called: true };
}

/** The same quiet calls from the keypads and from the API, interleaved: hall board flash p50 of each. */
async function apiVsKeypad(c: Center, devs: Map<string, Dev>, http: number): Promise<{ keypad: Dist; api: Dist; apiReply: Dist; ratio: number }> {
  const login = await fetch(`http://127.0.0.1:${http}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench', password: BENCH_PASSWORD, bearer: true }) });
  const token = ((await login.json()) as { token: string }).token;
  const boardOf = (w: number) => devs.get(c.boards.find((b) => b.zone === c.zoneOf(w))!.id)!;
  const kp: number[] = [];
  const viaApi: number[] = [];
  const apiReply: number[] = [];
  for (let i = 0; i < 5; i++) await apiNext(http, token, 1 + (i % c.n), boardOf(1 + (i % c.n))); // warm
  for (let i = 0; i < QUIET_SAMPLES; i++) {
    const w = 1 + (i % c.n);
    const k = await callNext(devs.get(`kp-${w}`)!, devs.get(`wd-${w}`)!, boardOf(w));
    if (k.called) kp.push(k.board!);
    await new Promise((res) => setTimeout(res, 5));
    const a = await apiNext(http, token, w, boardOf(w));
    if (a.called) {
      viaApi.push(a.board);
      apiReply.push(a.reply);
    }
    await new Promise((res) => setTimeout(res, 5));
  }
  const k = dist(kp);
  const a = dist(viaApi);
  return { keypad: k, api: a, apiReply: dist(apiReply), ratio: round(a.p50 / k.p50) };
}

// ------------------------------------------------------------------ one center size

interface Calls {
  quiet: { reply: Dist; display: Dist; board: Dist; messagesPerCall: PerKind; floor?: { relay: Dist; commit: Dist; ms: number } };
  together: { reply: Dist; display: Dist; rounds: number; messagesPerCall: PerKind };
}

/** Messages the devices received, by kind of device (keypads, window displays, boards, speakers, dispensers) and in all. */
type PerKind = Record<'keypads' | 'displays' | 'boards' | 'speakers' | 'dispensers' | 'total', number>;
const KIND_OF: Record<string, keyof PerKind> = { kp: 'keypads', wd: 'displays', board: 'boards', spk: 'speakers', disp: 'dispensers' };
function received(devs: Map<string, Dev>): PerKind {
  const out: PerKind = { keypads: 0, displays: 0, boards: 0, speakers: 0, dispensers: 0, total: 0 };
  for (const d of devs.values()) {
    out[KIND_OF[d.id.slice(0, d.id.indexOf('-'))]!] += d.inbox.length;
    out.total += d.inbox.length;
  }
  return out;
}
function perCall(a: PerKind, b: PerKind, calls: number): PerKind {
  const out = {} as PerKind;
  for (const k of Object.keys(a) as (keyof PerKind)[]) out[k] = Math.round(((b[k] - a[k]) / Math.max(1, calls)) * 10) / 10;
  return out;
}
/** Waits until no device has received anything for `quietMs` (views held back by the hub arrive late by design). */
async function settle(devs: Map<string, Dev>, quietMs = 400): Promise<void> {
  let last = -1;
  for (;;) {
    const now = received(devs).total;
    if (now === last) return;
    last = now;
    await new Promise((r) => setTimeout(r, quietMs));
  }
}

/** With `floor`, one sample of each part of the floor is taken between two quiet calls, at the same pace. */
async function measureCalls(c: Center, devs: Map<string, Dev>, rounds: number, floor?: Floor): Promise<Calls> {
  const kp = (w: number) => devs.get(`kp-${w}`)!;
  const wd = (w: number) => devs.get(`wd-${w}`)!;
  const boardOf = (w: number) => devs.get(c.boards.find((b) => b.zone === c.zoneOf(w))!.id)!;
  const q = { reply: [] as number[], display: [] as number[], board: [] as number[] };
  const floorRelay: number[] = [];
  const floorCommit: number[] = [];
  // Ten calls unmeasured first, as for the rounds below: a hub runs all day, warm.
  for (let i = 0; i < 10; i++) await callNext(kp(1 + (i % c.n)), wd(1 + (i % c.n)), boardOf(1 + (i % c.n)));
  await settle(devs);
  const q0 = received(devs);
  for (let i = 0; i < QUIET_SAMPLES; i++) {
    const w = 1 + (i % c.n);
    const r = await callNext(kp(w), wd(w), boardOf(w));
    if (!r.called) continue;
    q.reply.push(r.reply);
    q.display.push(r.display);
    q.board.push(r.board!);
    await new Promise((res) => setTimeout(res, QUIET_GAP_MS)); // a quiet hall: one call at a time
    if (floor) {
      floorRelay.push(await floor.relayOnce());
      await new Promise((res) => setTimeout(res, QUIET_GAP_MS));
      floorCommit.push(floor.commitOnce());
      await new Promise((res) => setTimeout(res, QUIET_GAP_MS));
    }
  }
  const quietFloor = floor ? { relay: dist(floorRelay), commit: dist(floorCommit) } : undefined;
  await settle(devs);
  const quietMessages = perCall(q0, received(devs), QUIET_SAMPLES);
  const t = { reply: [] as number[], display: [] as number[] };
  // One round unmeasured: a hub runs all day, its code is compiled by the time a hall fills up.
  await Promise.all(c.keypads.map((k) => callNext(kp(k.window), wd(k.window))));
  await settle(devs);
  const t0 = received(devs);
  for (let r = 0; r < rounds; r++) {
    const all = await Promise.all(c.keypads.map((k) => callNext(kp(k.window), wd(k.window))));
    for (const x of all) {
      t.reply.push(x.reply);
      if (x.called) t.display.push(x.display);
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  await settle(devs);
  const togetherMessages = perCall(t0, received(devs), rounds * c.keypads.length);
  return {
    quiet: {
      reply: dist(q.reply),
      display: dist(q.display),
      board: dist(q.board),
      messagesPerCall: quietMessages,
      ...(quietFloor ? { floor: { ...quietFloor, ms: round(quietFloor.relay.p50 + quietFloor.commit.p50) } } : {}),
    },
    together: { reply: dist(t.reply), display: dist(t.display), rounds, messagesPerCall: togetherMessages },
  };
}

const phase = (s: string) => process.env.BENCH_DEBUG && process.stderr.write(`[bench] ${s}\n`);

async function runCenter(n: number, layout: Layout, floor: Floor) {
  const c = generate(n, layout);
  const rounds = QUICK ? 3 : n >= 200 ? 5 : 10;
  let daemon = await startDaemon(c);
  const startEmptyMs = daemon.startMs;
  const idle = procStat(daemon.proc.pid!);
  const devs = new Map<string, Dev>();
  const ids = Object.keys(c.secrets);
  phase(`daemon ready on ${daemon.mqtt}`);
  for (let i = 0; i < ids.length; i += 50) {
    const chunk = await Promise.all(ids.slice(i, i + 50).map((id) => connect(daemon.mqtt, id, c.secrets[id]!)));
    for (const d of chunk) devs.set(d.id, d);
  }
  await new Promise((r) => setTimeout(r, 300));
  const connected = procStat(daemon.proc.pid!);
  const connectedParts = residentParts(daemon.proc.pid!);
  const dispensers = c.dispensers.map((id) => devs.get(id)!);
  phase(`connected ${devs.size}`);

  // A fresh day: just the tickets the calls below need.
  const need = Math.ceil((QUIET_SAMPLES + 10 + (rounds + 1) * n) * 1.3);
  await flatOut(dispensers, need, c.mix);
  phase('fresh tickets issued');
  const cpu0 = procStat(daemon.proc.pid!).cpuMs;
  const fresh = await measureCalls(c, devs, rounds, floor);
  const cpuFresh = (procStat(daemon.proc.pid!).cpuMs - cpu0) / (fresh.quiet.reply.n + 10 + (rounds + 1) * n);

  phase('fresh calls measured');
  await flatOut(dispensers, 2 * QUIET_SAMPLES + 20, c.mix);
  const api = await apiVsKeypad(c, devs, daemon.http);
  phase('API calls measured');
  // The rest of a busy day, flat out: durable tickets per second.
  const before = need;
  const flat = await flatOut(dispensers, Math.max(0, DAY_TICKETS - before), c.mix);
  const cpu1 = procStat(daemon.proc.pid!).cpuMs;
  const more = Math.ceil((QUIET_SAMPLES + 10 + (rounds + 1) * n) * 1.3);
  await flatOut(dispensers, more, c.mix);
  const cpu2 = procStat(daemon.proc.pid!).cpuMs;
  const cpuPerTicket = (cpu2 - cpu1) / more;
  const late = await measureCalls(c, devs, rounds, floor);
  const cpuLate = (procStat(daemon.proc.pid!).cpuMs - cpu2) / (late.quiet.reply.n + 10 + (rounds + 1) * n);
  const loaded = procStat(daemon.proc.pid!);
  const health = (await (await fetch(`http://127.0.0.1:${daemon.http}/health`)).json()) as { memory: Record<string, number>; modules: { name: string; detail?: { groups?: number; commands?: number } }[] };
  const core = health.modules.find((m) => m.name === 'core')?.detail ?? {};

  if (process.env.BENCH_HEAP_SNAPSHOT) {
    // With BENCH_DAEMON_FLAGS=--heapsnapshot-signal=SIGUSR2: a heap snapshot of the loaded daemon, in its working directory.
    daemon.proc.kill('SIGUSR2');
    await new Promise((r) => setTimeout(r, 8000));
  }
  const messagesReceived = received(devs);
  await Promise.all([...devs.values()].map((d) => d.c.endAsync(true)));
  await daemon.stop();
  // Start-up with the day's log in the store.
  daemon = await startDaemon(c);
  const startDayMs = daemon.startMs;
  const afterRestart = procStat(daemon.proc.pid!);
  await daemon.stop();

  let pinned: Calls | undefined;
  if (!QUICK && n === 50 && layout === 'spread' && spawnSync('taskset', ['-c', '0', 'true']).status === 0) {
    daemon = await startDaemon(c, ['taskset', '-c', '0']);
    const pd = new Map<string, Dev>();
    for (const id of ids) pd.set(id, await connect(daemon.mqtt, id, c.secrets[id]!));
    await flatOut(c.dispensers.map((id) => pd.get(id)!), Math.ceil((QUIET_SAMPLES + 10 + (rounds + 1) * n) * 1.3), c.mix);
    pinned = await measureCalls(c, pd, rounds);
    await Promise.all([...pd.values()].map((d) => d.c.endAsync(true)));
    await daemon.stop();
  }
  const pi = !QUICK && n === 50 && !args['no-pi'] ? await piClass(c, rounds) : undefined;

  return {
    windows: n,
    layout,
    devices: ids.length,
    ticketsIssued: DAY_TICKETS + more,
    fresh,
    apiVsKeypad: api,
    afterDay: late,
    ticketsPerSecond: flat.perSecond,
    press: flat.latency,
    cpuMsPerCall: { fresh: round(cpuFresh), afterDay: round(cpuLate) },
    cpuMsPerTicket: round(cpuPerTicket),
    memoryAfterDay: health.memory,
    messagesReceived,
    commandsPerGroup: round((core.commands ?? 0) / Math.max(1, core.groups ?? 1)),
    rssMiB: { idle: mib(idle.rssKb), connected: mib(connected.rssKb), loaded: mib(loaded.rssKb), restartedWithDay: mib(afterRestart.rssKb), connectedParts },
    startMs: { empty: Math.round(startEmptyMs), withDay: Math.round(startDayMs) },
    ...(pinned ? { pinnedOneCore: pinned } : {}),
    ...(pi ? { piClass: pi } : {}),
    floorMs: fresh.quiet.floor?.ms,
  };
}

// ------------------------------------------------------------------ a Pi-class budget

const PI = { cpuQuotaUs: 25_000, cpuPeriodUs: 100_000, memoryBytes: 256 * 1024 * 1024 };

/**
 * The same calls with the daemon in a cgroup (v1) capped to a quarter of one
 * core and 256 MiB, about a small Pi's share once the OS and a browser kiosk
 * have theirs. Needs root and writable /sys/fs/cgroup/{cpu,memory}; otherwise
 * `{skipped: why}`. The cgroups are removed afterwards.
 */
async function piClass(c: Center, rounds: number): Promise<Record<string, unknown>> {
  const name = `qhub-bench-${process.pid}`;
  const cpu = `/sys/fs/cgroup/cpu/${name}`;
  const mem = `/sys/fs/cgroup/memory/${name}`;
  try {
    if (process.getuid?.() !== 0) return { skipped: 'not root: cgroups cannot be made' };
    mkdirSync(cpu);
    mkdirSync(mem);
    writeFileSync(`${cpu}/cpu.cfs_period_us`, String(PI.cpuPeriodUs));
    writeFileSync(`${cpu}/cpu.cfs_quota_us`, String(PI.cpuQuotaUs));
    writeFileSync(`${mem}/memory.limit_in_bytes`, String(PI.memoryBytes));
  } catch (e) {
    for (const d of [cpu, mem]) spawnSync('rmdir', [d]);
    return { skipped: `cgroup v1 not writable here: ${(e as Error).message}` };
  }
  try {
    // The shell enters both cgroups, then becomes the daemon (exec): the daemon's pid is the one written.
    const daemon = await startDaemon(c, ['sh', '-c', `echo $$ > ${cpu}/cgroup.procs && echo $$ > ${mem}/cgroup.procs && exec "$@"`, 'qhub-pi']);
    const idle = procStat(daemon.proc.pid!);
    const devs = new Map<string, Dev>();
    const ids = Object.keys(c.secrets);
    for (let i = 0; i < ids.length; i += 50) {
      const chunk = await Promise.all(ids.slice(i, i + 50).map((id) => connect(daemon.mqtt, id, c.secrets[id]!)));
      for (const d of chunk) devs.set(d.id, d);
    }
    const connected = procStat(daemon.proc.pid!);
    const fresh = await flatOut(c.dispensers.map((id) => devs.get(id)!), Math.ceil((QUIET_SAMPLES + 10 + (rounds + 1) * c.n) * 1.3), c.mix);
    const calls = await measureCalls(c, devs, rounds);
    const loaded = procStat(daemon.proc.pid!);
    const read = (f: string) => readFileSync(f, 'utf8').trim();
    const oom = Object.fromEntries(read(`${mem}/memory.oom_control`).split('\n').map((l) => l.split(' ')).map(([k, v]) => [k, Number(v)]));
    const result = {
      cpu: `${PI.cpuQuotaUs}/${PI.cpuPeriodUs} µs`,
      memoryLimitMiB: PI.memoryBytes / 1048576,
      startMs: Math.round(daemon.startMs),
      calls,
      ticketsPerSecond: fresh.perSecond,
      rssMiB: { idle: mib(idle.rssKb), connected: mib(connected.rssKb), loaded: mib(loaded.rssKb) },
      memory: {
        maxUsageMiB: Math.round(Number(read(`${mem}/memory.max_usage_in_bytes`)) / 104857.6) / 10,
        failcnt: Number(read(`${mem}/memory.failcnt`)),
        oomKills: oom.oom_kill ?? 0,
        underOom: oom.under_oom ?? 0,
      },
      throttled: Object.fromEntries(read(`${cpu}/cpu.stat`).split('\n').map((l) => l.split(' ')).map(([k, v]) => [k, Number(v)])),
    };
    await Promise.all([...devs.values()].map((d) => d.c.endAsync(true)));
    await daemon.stop();
    return result;
  } finally {
    for (const d of [cpu, mem]) {
      for (let i = 0; i < 50 && spawnSync('rmdir', [d]).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    }
  }
}

// ------------------------------------------------------------------ forwarding a backlog

/**
 * A backlog of `count` events (a center whose backend was away) drained by the
 * daemon's webhook forwarder to a receiver in this process that parses each
 * batch and answers 204: events per second from "qhub ready" to the last one.
 */
async function drainBacklog(count: number): Promise<{ events: number; seconds: number; perSecond: number }> {
  const c = generate(10, 'spread', 'backlog');
  const target = count;
  let received = 0;
  let done: () => void = () => undefined;
  const all = new Promise<void>((r) => (done = r));
  const receiver = createHttpServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      received += (JSON.parse(body) as { events: unknown[] }).events.length;
      res.writeHead(204).end();
      if (received >= target) done();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const port = (receiver.address() as AddressInfo).port;
  writeFileSync(c.config, readFileSync(c.config, 'utf8') + `forward: {webhook: {url: "http://127.0.0.1:${port}/events", secret: "bench-webhook-secret", lingerMs: 0}}\n`);
  // The backlog, written by the hub's own Core (group commits of 250 window commands).
  const core = new Core({ config: loadCenter(c.config).config, dataDir: join(c.dir, 'data'), log: pino({ level: 'silent' }) });
  await core.start();
  for (let i = 0; core.store.lastSeq < count; i++) {
    const before = core.store.lastSeq;
    await Promise.all(Array.from({ length: 250 }, (_, k) => core.submit({ type: (i + k) % 2 ? 'open' : 'pause', window: 1 + (k % 10), reason: 'bench', source: 'bench', id: `b${i}-${k}` } as never)));
    if (i > 2 && core.store.lastSeq === before) throw new Error('the backlog generator made no events');
  }
  core.stop();
  phase(`backlog written: ${target} events wanted`);
  const daemon = await startDaemon(c);
  const t0 = performance.now();
  const progress = setInterval(() => phase(`received ${received}`), 2000);
  await all;
  clearInterval(progress);
  const seconds = (performance.now() - t0) / 1000;
  await daemon.stop();
  receiver.close();
  return { events: received, seconds: round(seconds), perSecond: Math.round(received / seconds) };
}

// ------------------------------------------------------------------ main

// The floor alone, at the start: back to back and at the quiet calls' pace (reported). Each center's
// quiet calls are judged against the floor sampled between them (`fresh.quiet.floor`).
const floorParts = await openFloor();
const hot = await floorAlone(floorParts, QUICK ? 100 : 400, 0);
const { relay, commit } = await floorAlone(floorParts, QUICK ? 100 : 400, QUIET_GAP_MS);
const floor = round(relay.p50 + commit.p50);
console.log(`\nqhub benchmark${QUICK ? ' (quick: proves it runs, judges nothing)' : ''} — node ${process.version}, ${process.arch}`);
console.log(
  `baselines at the start: bare Aedes relay round trip p50 ${relay.p50} ms (p99 ${relay.p99}); one synchronous=FULL commit p50 ${commit.p50} ms (p99 ${commit.p99}); ${QUIET_GAP_MS} ms apart: floor ${floor} ms; back to back: ${round(hot.relay.p50 + hot.commit.p50)} ms`,
);
console.log(`  each center's quiet calls are compared with the floor sampled between them (shown per center)\n`);

const results: Awaited<ReturnType<typeof runCenter>>[] = [];
for (const { n, layout } of RUNS) {
  process.stdout.write(`center of ${n} windows (${layout}), ${4 * n} devices ... `);
  const r = await runCenter(n, layout, floorParts);
  console.log('done');
  results.push(r);
}
await floorParts.close();

/** The floor a center's calls are compared with: sampled between its fresh quiet calls. */
const floorOf = (r: (typeof results)[number]) => r.fresh.quiet.floor?.ms ?? floor;
let rowFloor = floor;
const row = (label: string, d: Dist, ratio = true) =>
  `  ${label.padEnd(46)} p50 ${String(d.p50).padStart(8)}  p99 ${String(d.p99).padStart(8)}  max ${String(d.max).padStart(8)} ms${ratio ? `   p50 = ${round(d.p50 / rowFloor)}× floor` : ''}`;
for (const r of results) {
  rowFloor = floorOf(r);
  const f = r.fresh.quiet.floor;
  console.log(`\n${r.windows} windows, layout ${r.layout}, ${r.devices} devices (ms)`);
  if (f) console.log(`  floor between its quiet calls: relay p50 ${f.relay.p50} + commit p50 ${f.commit.p50} = ${f.ms} ms`);
  console.log(row('quiet call → keypad reply', r.fresh.quiet.reply));
  console.log(row('quiet call → window display', r.fresh.quiet.display));
  console.log(row('quiet call → hall board flash', r.fresh.quiet.board));
  console.log(row('keypad next → board flash (interleaved with API)', r.apiVsKeypad.keypad));
  console.log(row('API next → board flash (bearer, kept-alive)', r.apiVsKeypad.api));
  console.log(row('API next → HTTP answer', r.apiVsKeypad.apiReply));
  console.log(row(`all ${r.windows} windows at once → reply`, r.fresh.together.reply, false));
  console.log(row(`all ${r.windows} windows at once → window display`, r.fresh.together.display, false));
  console.log(row(`after ${DAY_TICKETS} tickets: quiet call → reply`, r.afterDay.quiet.reply));
  console.log(row(`after ${DAY_TICKETS} tickets: all at once → reply`, r.afterDay.together.reply, false));
  console.log(row(`after ${DAY_TICKETS} tickets: all at once → display`, r.afterDay.together.display, false));
  console.log(row('dispenser press → ticket (flat out)', r.press, false));
  const per = (p: PerKind) => `${p.total} (keypads ${p.keypads}, window displays ${p.displays}, boards ${p.boards}, speakers ${p.speakers})`;
  console.log(`  messages to devices per call: quiet ${per(r.fresh.quiet.messagesPerCall)}; all at once ${per(r.fresh.together.messagesPerCall)}`);
  if (r.pinnedOneCore) {
    console.log(row('pinned to one core: quiet call → reply', r.pinnedOneCore.quiet.reply));
    console.log(row('pinned to one core: all at once → reply', r.pinnedOneCore.together.reply, false));
  }
  const pi = r.piClass as { skipped?: string; calls?: Calls; startMs?: number; ticketsPerSecond?: number; rssMiB?: Record<string, number>; memory?: Record<string, number> } | undefined;
  if (pi?.skipped) console.log(`  Pi-class budget: skipped: ${pi.skipped}`);
  else if (pi?.calls) {
    console.log(row('Pi-class (¼ core, 256 MiB): quiet call → reply', pi.calls.quiet.reply));
    console.log(row('Pi-class: all at once → reply', pi.calls.together.reply, false));
    console.log(row('Pi-class: all at once → window display', pi.calls.together.display, false));
    console.log(`  Pi-class: start ${pi.startMs} ms, ${pi.ticketsPerSecond} tickets/s, resident ${JSON.stringify(pi.rssMiB)} MiB, cgroup memory ${JSON.stringify(pi.memory)}`);
  }
  console.log(`  durable tickets/s, ${Math.max(1, r.windows / 2)} dispensers flat out: ${r.ticketsPerSecond}`);
  console.log(`  group commit: ${r.commandsPerGroup} commands per transaction on average over the run`);
  console.log(`  hub CPU: ${r.cpuMsPerCall.fresh} ms per call (fresh day), ${r.cpuMsPerCall.afterDay} ms (after the day), ${r.cpuMsPerTicket} ms per ticket`);
  console.log(`  resident memory MiB: idle ${r.rssMiB.idle}, devices connected ${r.rssMiB.connected} (anonymous ${r.rssMiB.connectedParts.anonMiB}, file-backed ${r.rssMiB.connectedParts.fileMiB}), after the day ${r.rssMiB.loaded}; restarted on the day's log ${r.rssMiB.restartedWithDay}`);
  console.log(`  after the day, the daemon's own figures (MiB): ${JSON.stringify(r.memoryAfterDay)}`);
  console.log(`  start-up: ${r.startMs.empty} ms empty store, ${r.startMs.withDay} ms with the day's log`);
}

process.stdout.write(`\nforwarding a backlog of ${QUICK ? '5,000' : '100,000'} events to a webhook receiver ... `);
const drain = await drainBacklog(QUICK ? 5000 : 100_000);
console.log(`${drain.events} events in ${drain.seconds} s: ${drain.perSecond} events/s`);

// Targets are judged on the worse of the layouts: the 50-window centers (spread and oneService) when measured, else the first center.
const judged = results.some((r) => r.windows === 50) ? results.filter((r) => r.windows === 50) : [results[0]!];
const worst = <T>(f: (r: (typeof results)[number]) => T | undefined) => Math.max(...judged.map(f).filter((x): x is T => x !== undefined).map(Number));
const where = judged.map((r) => `${r.windows} w. ${r.layout}`).join(' / ');
const pis = judged.map((r) => r.piClass as { calls?: Calls; memory?: { oomKills: number; underOom: number } } | undefined).filter((p) => p?.calls);
const targets = [
  { name: `one call, quiet hall: reply p50 ≤ 1.5 × the floor sampled between the calls (${where})`, value: worst((r) => round(r.fresh.quiet.reply.p50 / floorOf(r))), limit: 1.5 },
  ...(judged[0]!.windows === 50
    ? [
        { name: `50 windows at once: reply p99 ≤ 5 ms (${where}, fresh day and after it)`, value: worst((r) => Math.max(r.fresh.together.reply.p99, r.afterDay.together.reply.p99)), limit: 5 },
        { name: '… after the day: p99 ≤ 1.2 × the fresh p99', value: round(worst((r) => r.afterDay.together.reply.p99 / r.fresh.together.reply.p99)), limit: 1.2 },
        { name: '≤ 80 MiB resident with 200 devices connected', value: worst((r) => r.rssMiB.connected), limit: 80 },
        { name: '≤ 80 MiB resident with 200 devices, after the day', value: worst((r) => r.rssMiB.loaded), limit: 80 },
      ]
    : []),
  ...(pis.length
    ? [
        { name: 'Pi-class (¼ core, 256 MiB): 50 at once p99 ≤ 250 ms', value: Math.max(...pis.map((p) => p!.calls!.together.reply.p99)), limit: 250 },
        { name: 'Pi-class: killed for memory (OOM kills + under OOM)', value: Math.max(...pis.map((p) => p!.memory!.oomKills + p!.memory!.underOom)), limit: 0 },
      ]
    : []),
  { name: 'API next → board p50 ≤ 1.5 × the keypad’s', value: Math.max(...results.map((r) => r.apiVsKeypad.ratio)), limit: 1.5 },
  { name: '≥ 2,000 durable tickets/s', value: Math.max(...results.map((r) => r.ticketsPerSecond)), limit: 2000, atLeast: true },
  { name: '≥ 5,000 events/s forwarding a backlog', value: drain.perSecond, limit: 5000, atLeast: true },
  { name: 'start ≤ 1 s (empty store and with the day’s log)', value: Math.max(...results.map((r) => Math.max(r.startMs.empty, r.startMs.withDay))), limit: 1000 },
].map((t) => ({ ...t, met: t.atLeast ? t.value >= t.limit : t.value <= t.limit }));
console.log('\ntargets');
for (const t of targets) console.log(`  ${t.met ? 'met    ' : 'MISSED '} ${t.name.padEnd(52)} ${t.value} (limit ${t.limit})`);

mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(
  OUT,
  JSON.stringify({ at: new Date().toISOString(), quick: QUICK, node: process.version, daemonFlags: DAEMON_NODE_FLAGS, daemonScript: CLI.slice(ROOT.length), daemonEnv: DAEMON_ENV, dayTickets: DAY_TICKETS, baselines: { relay, commit, floorMs: floor, gapMs: QUIET_GAP_MS, backToBack: { relay: hot.relay, commit: hot.commit, sumMs: round(hot.relay.p50 + hot.commit.p50) } }, centers: results, forwardDrain: drain, targets }, null, 2) + '\n',
);
console.log(`\nwritten: ${OUT}`);
process.exit(0);
