/**
 * `/metrics` scrape time at 200 devices, and `qhub devices`' answer time
 * (device health for every device): the compiled daemon started on a
 * generated center of 50 windows (50 keypads, 50 window displays, 50 boards,
 * 25 dispensers, 25 speakers), every device connected over MQTT, a day's
 * worth of tickets waiting and called; then scrapes one after the other
 * through HTTP. Prints JSON.
 *
 *   npm run build && node dist/tests/bench/metrics.js [--scrapes 200] [--tickets 1000]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import { daemonReady } from './ready.js';

const { values } = parseArgs({ options: { scrapes: { type: 'string' }, tickets: { type: 'string' } } });
const SCRAPES = Number(values.scrapes ?? 200);
const TICKETS = Number(values.tickets ?? 1000);
const CLI = new URL('../../daemon/cli.js', import.meta.url).pathname;
const SERVICES = ['intake', 'treasury', 'delivery', 'inquiry', 'complaints'];
const W = 50;

const dir = mkdtempSync(join(tmpdir(), 'qhub-bench-metrics-'));
const ids: { id: string; line: string }[] = [];
for (let w = 1; w <= W; w++) {
  ids.push({ id: `kp-${w}`, line: `{id: kp-${w}, kind: keypad, model: qhub-keypad, bind: {window: ${w}}}` });
  ids.push({ id: `wd-${w}`, line: `{id: wd-${w}, kind: display, model: qhub-window-display, bind: {window: ${w}}}` });
  ids.push({ id: `board-${w}`, line: `{id: board-${w}, kind: board, model: qhub-board-8row, bind: {zone: z${w % 5}}}` });
}
for (let i = 1; i <= W / 2; i++) {
  ids.push({ id: `disp-${i}`, line: `{id: disp-${i}, kind: dispenser, model: qhub-dispenser-5, bind: {services: [${SERVICES.join(', ')}]}}` });
  ids.push({ id: `spk-${i}`, line: `{id: spk-${i}, kind: speaker, model: qhub-speaker, bind: {zone: z${i % 5}}}` });
}
writeFileSync(
  join(dir, 'center.yaml'),
  [
    'version: 1',
    'center: {id: bench-metrics, name: {ar: مركز القياس}, timezone: Africa/Cairo}',
    'services:',
    ...SERVICES.map((s, i) => `  - {id: ${s}, name: {ar: ${s}}, prefix: ${'ABCDE'[i]}, first: 1, last: 9999}`),
    'windows:',
    ...Array.from({ length: W }, (_, i) => `  - {number: ${i + 1}, kind: intake, services: [${SERVICES[i % 5]}], zone: z${(i + 1) % 5}}`),
    'secrets: center.secrets.yaml',
    'devices:',
    ...ids.map((d) => `  - ${d.line}`),
    'hub: {mqtt: {host: 127.0.0.1, port: 0, messagesPerSecond: 10000, burst: 10000}, http: {host: 127.0.0.1, port: 0}}',
  ].join('\n') + '\n',
);
writeFileSync(join(dir, 'center.secrets.yaml'), ids.map((d) => `${d.id}: bench-secret-${d.id}`).join('\n') + '\n');

const proc = spawn(process.execPath, [CLI, 'start', '--config', join(dir, 'center.yaml'), '--data', join(dir, 'data'), '--json'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_ENV: 'bench', INVOCATION_ID: '' } });
const ports = await daemonReady(proc);

const clients: MqttClient[] = [];
for (let i = 0; i < ids.length; i += 20)
  clients.push(
    ...(await Promise.all(
      ids.slice(i, i + 20).map(async ({ id }) => {
        const c = await mqtt.connectAsync({ host: '127.0.0.1', port: ports.mqtt, clientId: id, username: id, password: `bench-secret-${id}`, protocolVersion: 4, reconnectPeriod: 0 });
        (c.stream as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
        await c.publishAsync(`qhub/dev/${id}/status`, JSON.stringify({ v: 1, state: 'online', fw: '1.0.0' }), { qos: 1, retain: true });
        return c;
      }),
    )),
  );
const base = `http://127.0.0.1:${ports.http}`;
// Wait until the hub sees all of them.
for (;;) {
  const h = (await (await fetch(`${base}/health`)).json()) as { devices: { online: number } };
  if (h.devices.online === ids.length) break;
  await new Promise((r) => setTimeout(r, 200));
}
// Tickets: pressed on the dispensers (QoS 1: each is on disk when its PUBACK comes).
const disp = clients.filter((_, i) => ids[i]!.id.startsWith('disp-'));
for (let i = 0; i < TICKETS; i += 50)
  await Promise.all(Array.from({ length: Math.min(50, TICKETS - i) }, (_, j) => disp[(i + j) % disp.length]!.publishAsync(`qhub/dev/${ids[clients.indexOf(disp[(i + j) % disp.length]!)]!.id}/press`, JSON.stringify({ v: 1, id: `b${i + j}`, service: SERVICES[(i + j) % 5] }), { qos: 1 })));

async function time(path: string, n: number): Promise<{ p50: number; p99: number; max: number; bytes: number }> {
  const ms: number[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await fetch(base + path);
    const text = await r.text();
    ms.push(performance.now() - t0);
    bytes = text.length;
    if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}`);
  }
  ms.sort((a, b) => a - b);
  const q = (p: number) => Math.round(ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]! * 100) / 100;
  return { p50: q(0.5), p99: q(0.99), max: q(1), bytes };
}

await time('/metrics', 10); // warm up
const metrics = await time('/metrics', SCRAPES);
const health = await time('/health', Math.min(50, SCRAPES));
const waiting = Number(/qhub_queue_waiting\{service="intake"\} (\d+)/.exec(await (await fetch(`${base}/metrics`)).text())?.[1]);
console.log(JSON.stringify({ devices: ids.length, online: ids.length, tickets: TICKETS, intakeWaiting: waiting, metricsScrapeMs: metrics, healthMs: health }, null, 2));

await Promise.all(clients.map((c) => c.endAsync(true)));
proc.kill('SIGTERM');
await new Promise((r) => proc.once('exit', r));
rmSync(dir, { recursive: true, force: true });
