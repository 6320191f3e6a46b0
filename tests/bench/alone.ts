/**
 * The quiet call measured from a process of its own: is the bench's "quiet
 * call → reply" the hub's time, or partly the bench's, whose one process
 * also reads every message of the other 199 devices?
 *
 *   node dist/tests/bench/alone.js --center DIR [--calls 300]
 *
 * BENCH_DAEMON_FLAGS adds node flags to the daemon's (e.g. a CPU profile);
 * BENCH_DAEMON_ENTRY runs another build (e.g. dist/bundleA/qhub.js).
 *
 * DIR holds a center.yaml and center.secrets.yaml (a center the bench
 * generated: `npm run bench` leaves them in /tmp/qhub-bench-* /center-50).
 * The daemon (the unit's script, flags and malloc settings) starts on a fresh
 * store; this process connects window 1's keypad kp-1 and dispenser disp-1
 * only, and measures a keypad's `screen` (nothing committed) and `pause`/`open`
 * alone, then press → ticket and NEXT → screen, in four phases on
 * the same daemon: (1) no other device connected; (2) every other device of
 * the center connected from a second process, which reads its messages
 * and does nothing else; (3) the same devices read by a process that is
 * busy (a JSON parse of every message and 2 ms of work after each call's
 * burst), as the bench's own clients are; (4) alone again. Prints p50 / p99
 * per phase.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { parse } from 'yaml';
import { DAEMON_ENV, DAEMON_NODE_FLAGS, DAEMON_SCRIPT } from './flags.js';
import { daemonReady } from './ready.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const { values: args } = parseArgs({ options: { center: { type: 'string' }, calls: { type: 'string' }, role: { type: 'string' }, port: { type: 'string' }, busy: { type: 'boolean' } } });

async function connect(port: number, id: string, secret: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync({ host: '127.0.0.1', port, clientId: id, username: id, password: secret, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 30_000 });
  (c.stream as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
  await c.subscribeAsync(`qhub/dev/${id}/+`, { qos: 1 });
  await c.publishAsync(`qhub/dev/${id}/status`, JSON.stringify({ v: 1, state: 'online', model: 'bench', fw: 'bench' }), { qos: 1, retain: true });
  return c;
}

const secretsOf = (dir: string) => parse(readFileSync(join(dir, 'center.secrets.yaml'), 'utf8')) as Record<string, string>;

if (args.role === 'others') {
  // The second process: every device but the two measured, reading what it is sent.
  const secrets = secretsOf(args.center!);
  const port = Number(args.port);
  let last = 0;
  for (const [id, secret] of Object.entries(secrets)) {
    if (id === 'kp-1' || id === 'disp-1') continue;
    const c = await connect(port, id, secret);
    c.on('message', (_t, payload) => {
      if (!args.busy) return;
      JSON.parse(payload.toString());
      const now = performance.now();
      if (now - last > 5) {
        // Once per burst: some work of its own, as a bench that records and checks what it got.
        last = now;
        while (performance.now() - now < 2);
      }
    });
  }
  process.stdout.write('connected\n');
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
} else {
  const dir = args.center;
  if (!dir) throw new Error('--center DIR: a folder with center.yaml and center.secrets.yaml');
  const calls = Number(args.calls ?? 300);
  const work = mkdtempSync(join(tmpdir(), 'qhub-alone-'));
  copyFileSync(join(dir, 'center.yaml'), join(work, 'center.yaml'));
  copyFileSync(join(dir, 'center.secrets.yaml'), join(work, 'center.secrets.yaml'));
  const secrets = secretsOf(work);
  const config = parse(readFileSync(join(work, 'center.yaml'), 'utf8')) as { windows: { number: number; services: string[] }[] };
  const service = config.windows.find((w) => w.number === 1)!.services[0]!;

  const proc = spawn(process.execPath, [...DAEMON_NODE_FLAGS, ...(process.env.BENCH_DAEMON_FLAGS?.split(' ').filter(Boolean) ?? []), join(ROOT, process.env.BENCH_DAEMON_ENTRY ?? DAEMON_SCRIPT), 'start', '--config', join(work, 'center.yaml'), '--data', join(work, 'data'), '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...DAEMON_ENV, ...process.env, NODE_ENV: 'bench', INVOCATION_ID: '' },
  });
  const port = (await daemonReady(proc)).mqtt;

  // Whatever happens to this process, the daemon goes with it.
  process.on('exit', () => proc.kill('SIGKILL'));
  const disp = await connect(port, 'disp-1', secrets['disp-1']!);
  const kp = await connect(port, 'kp-1', secrets['kp-1']!);
  let n = 0;
  const ask = (c: MqttClient, id: string, leaf: string, body: Record<string, unknown>, replyLeaf: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const rid = `alone-${++n}`;
      const t0 = performance.now();
      const timer = setTimeout(() => reject(new Error(`${id}: no ${replyLeaf} for ${rid}`)), 20_000);
      const on = (topic: string, payload: Buffer) => {
        if (!payload.toString().includes(`"re":"${rid}"`)) return;
        // A refusal comes on the error leaf, with the same id: a measure of nothing.
        if (!topic.endsWith(`/${replyLeaf}`)) return (c.off('message', on), clearTimeout(timer), reject(new Error(`${id}: ${topic}: ${payload.toString().slice(0, 200)}`)));
        c.off('message', on);
        clearTimeout(timer);
        resolve(performance.now() - t0);
      };
      c.on('message', on);
      c.publish(`qhub/dev/${id}/${leaf}`, JSON.stringify({ v: 1, id: rid, ...body }), { qos: 1 });
    });
  const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  const phase = async (name: string) => {
    const press: number[] = [];
    const next: number[] = [];
    for (let i = 0; i < calls + 20; i++) {
      const a = await ask(disp, 'disp-1', 'press', { service }, 'ticket');
      const b = await ask(kp, 'kp-1', 'cmd', { cmd: 'next' }, 'screen');
      if (i >= 20) (press.push(a), next.push(b));
      await new Promise((r) => setTimeout(r, 10));
    }
    console.log(`${name.padEnd(52)} press → ticket p50 ${q(press, 0.5).toFixed(3)} p99 ${q(press, 0.99).toFixed(3)} ms;  NEXT → screen p50 ${q(next, 0.5).toFixed(3)} p99 ${q(next, 0.99).toFixed(3)} ms`);
  };
  const others = async (busy: boolean): Promise<ChildProcess> => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--role', 'others', '--center', work, '--port', String(port), ...(busy ? ['--busy'] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.setEncoding('utf8').on('data', (d: string) => d.includes('connected') && resolve());
      child.on('exit', (code) => reject(new Error(`the others' process exited with ${code}`)));
    });
    return child;
  };
  const stop = (c: ChildProcess) => new Promise<void>((r) => (c.removeAllListeners('exit'), c.once('exit', () => r()), c.stdin!.end()));

  console.log(`quiet calls at window 1 (${service}), ${calls} each, load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`);
  {
    // What a reply costs without a command (screen: nothing decided or stored), with one that changes little
    // (pause/open: the window's state, its keypad and display), and NEXT (above: the call, the zone's boards).
    for (const [name, cmds] of [['screen (nothing committed)', ['screen']], ['open / pause in turns', ['open', 'pause']]] as const) {
      const xs: number[] = [];
      for (let i = 0; i < calls + 20; i++) {
        const x = await ask(kp, 'kp-1', 'cmd', { cmd: cmds[i % cmds.length] }, 'screen');
        if (i >= 20) xs.push(x);
        await new Promise((r) => setTimeout(r, 10));
      }
      if (cmds.length > 1) await ask(kp, 'kp-1', 'cmd', { cmd: 'open' }, 'screen');
      console.log(`0. ${name.padEnd(49)} keypad → screen p50 ${q(xs, 0.5).toFixed(3)} p99 ${q(xs, 0.99).toFixed(3)} ms`);
    }
  }
  await phase('1. the two devices alone');
  const idle = await others(false);
  await phase(`2. + ${Object.keys(secrets).length - 2} devices read by another process`);
  await stop(idle);
  const busy = await others(true);
  await phase('3. + the same devices read by a busy process');
  await stop(busy);
  await phase('4. the two devices alone again');
  console.log(`load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`);
  await disp.endAsync();
  await kp.endAsync();
  await new Promise<void>((r) => (proc.once('exit', () => r()), proc.kill('SIGTERM')));
  process.removeAllListeners('exit');
}
