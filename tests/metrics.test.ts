/**
 * `/metrics` of the real daemon: valid for Prometheus (`promtool check
 * metrics`, Debian's prometheus package), and its queue figures are the
 * engine's (compared with the API's answer at the same moment).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../daemon/api/auth.js';
import { connectDevice, exampleSecrets, startHub, testCenter, type RunningHub } from './helpers/hub.js';

const secrets = exampleSecrets();

/** `name{labels} value` lines → value by series. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

describe('/metrics', () => {
  let hub: RunningHub;
  let token: string;
  const base = () => `http://127.0.0.1:${hub.httpPort}`;

  beforeAll(async () => {
    const hash = await hashPassword('metrics-pass-1');
    const { dir, config } = testCenter((doc) => doc.setIn(['hub', 'users'], doc.createNode([{ name: 'boss', role: 'supervisor', password: hash }])));
    hub = await startHub(config, join(dir, 'data'));
    const disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
    const kp1 = await connectDevice(hub.mqttPort, 'kp-1', secrets['kp-1']!);
    for (let i = 0; i < 5; i++) await disp.request('press', { service: 'intake' }, 'ticket');
    for (let i = 0; i < 2; i++) await disp.request('press', { service: 'treasury' }, 'ticket');
    await kp1.request('cmd', { cmd: 'next' }, 'screen');
    await kp1.request('cmd', { cmd: 'recall' }, 'screen');
    await kp1.request('cmd', { cmd: 'done' }, 'screen');
    await kp1.request('cmd', { cmd: 'next' }, 'screen');
    await kp1.request('cmd', { cmd: 'noShow' }, 'screen');
    await disp.close();
    await kp1.close();
    const l = await fetch(`${base()}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'boss', password: 'metrics-pass-1', bearer: true }) });
    token = ((await l.json()) as { token: string }).token;
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('passes promtool check metrics', async () => {
    const r = await fetch(`${base()}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
    // No ticket numbers or ids in any label.
    expect(text).not.toMatch(/A00\d|\d{4}-\d\d-\d\d\/intake/);
  });

  it('shows the engine’s queues, windows, calls and devices', async () => {
    const m = parse(await (await fetch(`${base()}/metrics`)).text());
    const queues = (await (await fetch(`${base()}/api/v1/queues`, { headers: { authorization: `Bearer ${token}` } })).json()) as { service: string; waiting: number; longestWaitMin: number }[];
    for (const q of queues) expect(m.get(`qhub_queue_waiting{service="${q.service}"}`), q.service).toBe(q.waiting);
    expect(m.get('qhub_queue_waiting{service="intake"}')).toBe(3);
    expect(m.get('qhub_queue_waiting{service="treasury"}')).toBe(2);
    expect(m.get('qhub_queue_oldest_wait_seconds{service="intake"}')).toBeGreaterThan(0);
    expect(m.get('qhub_queue_oldest_wait_seconds{service="delivery"}')).toBe(0);
    expect(m.get('qhub_tickets_issued_total{service="intake"}')).toBe(5);
    expect(m.get('qhub_calls_total{window="1"}')).toBe(3); // two calls and a recall
    expect(m.get('qhub_tickets_served_total{service="intake"}')).toBe(1);
    expect(m.get('qhub_tickets_no_show_total{service="intake"}')).toBe(1);
    expect(m.get('qhub_wait_seconds_count{service="intake"}')).toBe(2);
    // The service's 15-minute target is a bucket: the service level is le="900" over the count.
    expect(m.has('qhub_wait_seconds_bucket{le="900",service="intake"}')).toBe(true);
    expect(m.get('qhub_window_open{window="1"}')).toBe(1);
    expect(m.get('qhub_window_open{window="2"}')).toBe(0);
    expect(m.get('qhub_devices{kind="dispenser",state="up"}')).toBe(0);
    expect(m.get('qhub_device_up{device="kp-1",kind="keypad"}')).toBe(0);
    expect(m.get('qhub_device_last_change_timestamp_seconds{device="kp-1",kind="keypad"}')).toBeGreaterThan(1.7e9);
    expect(m.get('qhub_store_commit_seconds_count')).toBeGreaterThan(5);
    expect(m.get('qhub_event_log_seq')).toBeGreaterThan(10);
    expect(m.get('process_resident_memory_bytes')).toBeGreaterThan(10e6);
  });

  it('every metric the Grafana dashboards query is one the hub exposes', async () => {
    const text = await (await fetch(`${base()}/metrics`)).text();
    const names = new Set([...text.matchAll(/^# TYPE (\S+) (\w+)/gm)].flatMap(([, n, t]) => (t === 'histogram' ? [`${n}_bucket`, `${n}_count`, `${n}_sum`] : [n!])));
    const dir = new URL('../docs/grafana/', import.meta.url).pathname;
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) {
      const exprs = [...readFileSync(join(dir, f), 'utf8').matchAll(/"expr":\s*"((?:[^"\\]|\\.)*)"/g)].map((x) => JSON.parse(`"${x[1]}"`) as string);
      expect(exprs.length, f).toBeGreaterThan(3);
      for (const e of exprs) for (const used of e.match(/\b(qhub|process|nodejs)_[a-z0-9_]+/g) ?? []) expect(names.has(used), `${f}: ${used} in ${e}`).toBe(true);
      // Each query is valid PromQL: promtool parses them as recording rules (Grafana's variables filled in).
      const rules = `groups:\n  - name: ${f}\n    rules:\n${exprs.map((e, i) => `      - record: qhub:check_${i}\n        expr: ${JSON.stringify(e.replaceAll('$__range', '1d').replaceAll('$instance', 'hub-1:8080'))}\n`).join('')}`;
      const file = join(mkdtempSync(join(tmpdir(), 'qhub-rules-')), 'rules.yml');
      writeFileSync(file, rules);
      const check = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
      expect(check.status, `${f}: ${check.stdout}${check.stderr}`).toBe(0);
    }
  });
});
