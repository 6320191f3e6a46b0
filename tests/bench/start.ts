/**
 * Start-up of the daemon: the example center on free loopback ports with an
 * empty store, spawn → "qhub ready" (wall clock), the daemon's CPU (utime +
 * stime from /proc) at that moment, and its VmRSS 1.5 s later; then SIGTERM.
 * CPU to ready is less sensitive to a busy machine than the wall clock.
 *
 *   node dist/tests/bench/start.js [--runs 5] [--dist DIR] [--entry FILE]
 *
 * --dist: another build's dist/ (e.g. an older commit built elsewhere) to
 * compare with, run in turns. --entry: the script in it, as systemd starts
 * it (bundle/qhub.js, daemon/bundle.mjs) unless told (daemon/cli.js: tsc's
 * output, as the tests run it). BENCH_DAEMON_FLAGS adds node flags.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from './flags.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const { values: args } = parseArgs({ options: { runs: { type: 'string' }, dist: { type: 'string' }, entry: { type: 'string' } } });
const DIST = args.dist ?? join(ROOT, 'dist');
const ENTRY = join(DIST, args.entry ?? 'bundle/qhub.js');
const RUNS = Number(args.runs ?? 5);
/** The flags systemd/qhub.service starts the daemon with (as tests/bench/run.ts), and BENCH_DAEMON_FLAGS. */
const NODE_FLAGS = [...DAEMON_NODE_FLAGS, ...(process.env.BENCH_DAEMON_FLAGS?.split(' ').filter(Boolean) ?? [])];

const dir = mkdtempSync(join(tmpdir(), 'qhub-start-'));
const example = join(ROOT, 'config/center.example.yaml');
writeFileSync(
  join(dir, 'center.yaml'),
  readFileSync(example, 'utf8')
    .replace('mqtt: {host: 0.0.0.0, port: 1883}', 'mqtt: {host: 127.0.0.1, port: 0}')
    .replace('http: {host: 0.0.0.0, port: 8080}', 'http: {host: 127.0.0.1, port: 0}'),
);
copyFileSync(example.replace('.yaml', '.secrets.yaml'), join(dir, 'center.example.secrets.yaml'));

const out: { ms: number; cpuMs: number; rssMiB: number }[] = [];
for (let i = 0; i < RUNS; i++) {
  rmSync(join(dir, 'data'), { recursive: true, force: true });
  const t0 = performance.now();
  const p = spawn(process.execPath, [...NODE_FLAGS, ENTRY, 'start', '--config', join(dir, 'center.yaml'), '--data', join(dir, 'data'), '--json'], {
    env: { ...DAEMON_ENV, ...process.env, QHUB_SUPERVISOR_SECRET: 'bench-supervisor-secret', INVOCATION_ID: '', NODE_ENV: 'bench' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buf = '';
  const ms = await new Promise<number>((resolve, reject) => {
    p.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      if (buf.includes('"qhub ready"')) resolve(performance.now() - t0);
    });
    p.on('exit', (code) => reject(new Error(`the daemon exited with ${code} before it was ready`)));
  });
  const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuMs = ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  await new Promise((r) => setTimeout(r, 1500));
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1] ?? NaN);
  out.push({ ms: Math.round(ms), cpuMs, rssMiB: Math.round(rssKb / 102.4) / 10 });
  await new Promise<void>((r) => {
    p.removeAllListeners('exit');
    p.once('exit', () => r());
    p.kill('SIGTERM');
  });
}
const median = (k: keyof (typeof out)[number]) => [...out].map((x) => x[k]).sort((a, b) => a - b)[Math.floor(out.length / 2)];
console.log(JSON.stringify({ entry: ENTRY, flags: NODE_FLAGS, runs: out, median: { ms: median('ms'), cpuMs: median('cpuMs'), rssMiB: median('rssMiB') }, loadavg: readFileSync('/proc/loadavg', 'utf8').trim() }));
rmSync(dir, { recursive: true, force: true });
