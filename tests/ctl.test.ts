/**
 * The technician's command line (`qhub status`, `qhub window 3 next`, ...),
 * run as the compiled CLI in a child process against a running daemon and a
 * stopped one, over the daemon's local socket.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLI, connectDevice, exampleSecrets, startHub, testCenter, type RunningHub } from './helpers/hub.js';

const secrets = exampleSecrets();

function qhub(args: string[], o: { config: string; data: string }): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args, '--config', o.config, '--data', o.data], { encoding: 'utf8', env: { ...process.env, QHUB_SOCKET: '' }, timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('qhub on the command line, against the running hub', () => {
  let hub: RunningHub;
  let o: { config: string; data: string };

  beforeAll(async () => {
    const { dir, config } = testCenter();
    o = { config, data: join(dir, 'data') };
    hub = await startHub(config, o.data);
    const disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
    for (let i = 0; i < 3; i++) await disp.request('press', { service: 'intake' }, 'ticket');
    await disp.request('press', { service: 'treasury' }, 'ticket');
    await disp.close();
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('status, queues, windows and devices print readable tables, and JSON with --json', () => {
    const st = qhub(['status'], o);
    expect(st.code, st.err).toBe(0);
    expect(st.out).toMatch(/waiting: 4/);
    expect(st.out).toMatch(/devices: \d+ online, \d+ offline/);
    const q = qhub(['queues'], o);
    expect(q.code).toBe(0);
    expect(q.out.split('\n')[0]).toMatch(/^service\s+prefix\s+waiting/);
    expect(q.out).toMatch(/intake\s+A\s+3\s+/);
    expect(q.out).toMatch(/A001 A002 A003/);
    const w = qhub(['windows'], o);
    expect(w.out).toMatch(/^window\s+kind\s+state/);
    const d = qhub(['devices', '--json'], o);
    const list = JSON.parse(d.out) as { id: string; online: boolean }[];
    expect(list.find((x) => x.id === 'kp-1')?.online).toBe(false);
  });

  it('keeps a window working when its keypad is dead: next, done, pause with a reason; the journal names cli:<login>', async () => {
    const next = qhub(['window', '3', 'next'], o);
    expect(next.code, next.err).toBe(0);
    expect(next.out).toMatch(/A001 \(intake\) called at window 3/);
    expect(next.out).toMatch(/window 3 \(intake\): open; A001 called/);
    const done = qhub(['window', '3', 'done'], o);
    expect(done.code).toBe(0);
    const pause = qhub(['window', '3', 'pause', 'system', 'down'], o);
    expect(pause.out).toMatch(/paused \(system down\)/);
    const show = qhub(['window', '3', '--json'], o);
    expect(JSON.parse(show.out)).toMatchObject({ number: 3, status: 'paused', reason: 'system down', served: 1 });
    // The journal names who did it (the log line may arrive just after the answer).
    await vi.waitFor(() => expect(String(hub.logs.find((l) => l.action === 'windows.next')?.user)).toMatch(/^cli:/), { timeout: 5000 });
  });

  it('says why a refused action was refused (exit 1), and a wrong usage (exit 2)', () => {
    const idle = qhub(['window', '3', 'recall'], o);
    expect(idle.code).toBe(1);
    expect(idle.err).toMatch(/refused \(window_idle\)/);
    const unknown = qhub(['window', '99', 'next'], o);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/unknown_window/);
    const usage = qhub(['window', 'x'], o);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/not a window number/);
    const verb = qhub(['window', '3', 'fly'], o);
    expect(verb.code).toBe(2);
    const missing = qhub(['window', '3', 'transfer'], o);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/service is missing/);
    const help = qhub(['window', '--help'], o);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/qhub window N/);
  });

  it('assigns a service to a window, cancels and finds tickets', () => {
    const a = qhub(['assign', '2', 'treasury,intake'], o);
    expect(a.code, a.err).toBe(0);
    expect(a.out).toMatch(/waiting for treasury, intake/);
    const n = qhub(['window', '2', 'next'], o);
    expect(n.out).toMatch(/B001 \(treasury\) called at window 2/);
    const c = qhub(['cancel', 'A003', 'left', 'the', 'center'], o);
    expect(c.code, c.err).toBe(0);
    expect(c.out).toMatch(/A003 \(intake\) cancelled/);
    const t = qhub(['ticket', 'A002'], o);
    expect(t.out).toMatch(/A002 \(intake\) waiting, 0 ahead/);
  });
});

describe('qhub on the command line, with the hub stopped', () => {
  it('says the hub is not running (exit 3) and how to start it', () => {
    const { dir, config } = testCenter();
    const r = qhub(['status'], { config, data: join(dir, 'data') });
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/the hub is not running/);
    expect(r.err).toMatch(/systemctl start qhub/);
  });
});

describe('qhub logs', () => {
  it('makes JSON log lines readable, keeps one device’s lines and a level and above, and passes other lines through', () => {
    const { dir } = testCenter();
    const file = join(dir, 'hub.log');
    const t = Date.parse('2026-11-24T08:00:00Z');
    const lines = [
      { level: 30, time: t, mod: 'hall-log', device: 'kp-3', msg: 'A042 → window 3, by kp-3' },
      { level: 40, time: t + 1000, mod: 'devices', device: 'kp-3', msg: 'request refused' },
      { level: 50, time: t + 2000, mod: 'wired', device: 'disp-w', msg: 'ticket A043 was issued but not printed' },
      { level: 20, time: t + 3000, mod: 'mqtt', msg: 'client connected' },
    ].map((l) => JSON.stringify(l));
    writeFileSync(file, `${lines.join('\n')}\nnot a json line\n`);
    const all = spawnSync(process.execPath, [CLI, 'logs', '--file', file], { encoding: 'utf8' });
    expect(all.status).toBe(0);
    expect(all.stdout).toMatch(/INFO.*A042 → window 3, by kp-3/);
    expect(all.stdout).toMatch(/not a json line/);
    expect(all.stdout).not.toMatch(/"level"/);
    const kp3 = spawnSync(process.execPath, [CLI, 'logs', '--file', file, '--device', 'kp-3', '--level', 'warn'], { encoding: 'utf8' });
    expect(kp3.stdout.trim().split('\n')).toHaveLength(1);
    expect(kp3.stdout).toMatch(/WARN.*request refused/);
    const bad = spawnSync(process.execPath, [CLI, 'logs', '--level', 'loud'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
  });
});
