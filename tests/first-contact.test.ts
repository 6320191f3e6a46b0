/**
 * What a person reads from the daemon: one line per ticket issued and per
 * call, devices coming online gathered into one line, and on a terminal a
 * closing block with the addresses and next steps.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, connectDevice, exampleSecrets, startHub, testCenter, type RunningHub, type TestDevice } from './helpers/hub.js';

const secrets = exampleSecrets();

async function waitLog(hub: RunningHub, pred: (l: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const l = hub.logs.find(pred);
    if (l) return l;
    if (Date.now() > end) throw new Error(`no such log line; last: ${hub.logs.slice(-5).map((x) => x.msg).join(' | ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('logs a person can follow', () => {
  let hub: RunningHub | undefined;
  const devs: TestDevice[] = [];
  afterEach(async () => {
    await Promise.all(devs.splice(0).map((d) => d.close()));
    if (hub && hub.proc.exitCode === null) await hub.stop();
    hub = undefined;
  });

  it('one info line per ticket issued and per call, and one line for the devices that came online together', async () => {
    const { dir, config } = testCenter();
    hub = await startHub(config, join(dir, 'data'), { QHUB_LOG_LEVEL: 'info' });
    const disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
    const kp = await connectDevice(hub.mqttPort, 'kp-3', secrets['kp-3']!);
    devs.push(disp, kp);
    await disp.request('press', { service: 'intake' }, 'ticket');
    await disp.request('press', { service: 'intake' }, 'ticket');
    await kp.request('cmd', { cmd: 'next' }, 'screen');
    await kp.request('cmd', { cmd: 'recall' }, 'screen');

    const hall = () => hub!.logs.filter((l) => l.mod === 'hall').map((l) => l.msg);
    await waitLog(hub, (l) => typeof l.msg === 'string' && l.msg.includes('again'));
    expect(hall()).toEqual([
      'A001 issued for intake, 0 ahead, by disp-1',
      'A002 issued for intake, 1 ahead, by disp-1',
      'A001 → window 3, by kp-3',
      'A001 → window 3 again (recall 1), by kp-3',
    ]);
    expect(hub.logs.find((l) => l.msg === 'A001 → window 3, by kp-3')).toMatchObject({ level: 30, ticket: 'A001', window: 3, source: 'kp-3', event: 'ticket.called' });

    // Devices coming online are gathered over a second: two that connect together are one line
    // ("2 devices came online (disp-1, kp-3): 2 of 27 online"), or two on a slow machine.
    await waitLog(hub, (l) => l.mod === 'hall' && typeof l.msg === 'string' && l.msg.endsWith('2 of 27 online'));
    const online = hub.logs.filter((l) => l.mod === 'hall' && typeof l.msg === 'string' && l.msg.includes('came online'));
    expect(online.flatMap((l) => l.devices as string[]).sort()).toEqual(['disp-1', 'kp-3']);
    if (online.length === 1) expect(online[0]!.msg).toBe('2 devices came online (disp-1, kp-3): 2 of 27 online');
    expect(hub.logs.filter((l) => l.level === 30 && (l.msg === 'client connected' || l.msg === 'device online'))).toEqual([]);
  });

  it('a source past 8 lines in 10 s (a device in a loop) is counted, not logged line by line, and the count is said', async () => {
    const { dir, config } = testCenter();
    hub = await startHub(config, join(dir, 'data'), { QHUB_LOG_LEVEL: 'info' });
    const disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
    devs.push(disp);
    for (let i = 0; i < 12; i++) await disp.request('press', { service: 'intake' }, 'ticket');
    const held = await waitLog(hub, (l) => l.mod === 'hall' && typeof l.msg === 'string' && l.msg.includes('not logged one by one'), 30_000);
    expect(held.msg).toBe('4 more tickets and calls by disp-1 in 10 s, not logged one by one (a device in a loop?): the events have them all');
    expect(hub.logs.filter((l) => l.mod === 'hall' && typeof l.msg === 'string' && / issued for /.test(l.msg)).map((l) => l.ticket)).toEqual(['A001', 'A002', 'A003', 'A004', 'A005', 'A006', 'A007', 'A008']);
  });

  it('on a terminal, start-up ends with the addresses to open and what to do next', async () => {
    const { dir, config } = testCenter();
    const proc = spawn(process.execPath, [CLI, 'start', '--config', config, '--data', join(dir, 'data'), '--pretty'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, INVOCATION_ID: '', NODE_ENV: 'test' } });
    let out = '';
    const exited = new Promise<number | null>((r) => proc.on('exit', r));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no banner: ${out}`)), 30_000);
      proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('Ctrl-C')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    // eslint-disable-next-line no-control-regex
    const text = out.replace(/\x1b\[[0-9;]*m/g, '');
    expect(text).toMatch(/qhub is ready\.\n {2}health: {6}http:\/\/127\.0\.0\.1:\d+\/health\n {2}devices: {5}MQTT on port \d+/);
    expect(text).toContain(`  config:      ${config}`);
    expect(text).toContain('  docs/INSTALL.md ');
    // The example center has a hall page (its web board and speaker): the banner names its address.
    expect(text).toMatch(/ {2}hall TV: {5}http:\/\/127\.0\.0\.1:\d+\/hall\/hall \(zone hall/);
  });
});
