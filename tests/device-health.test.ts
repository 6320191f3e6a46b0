/**
 * Device health across a restart, on the real daemon: a keypad reconnects
 * three times and has a request refused; the hub is stopped and started on
 * the same data; `qhub devices --json`, /health and the open alert still
 * say what happened today (rebuilt from the event log and the store), and
 * the alert open before the restart is not raised a second time.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { comebacks } from '../daemon/health/module.js';
import { CLI, connectDevice, exampleSecrets, startHub, testCenter, type RunningHub, type TestDevice } from './helpers/hub.js';

const secrets = exampleSecrets();
const ALL_DAY = Object.fromEntries(['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'].map((d) => [d, ['00:00', '24:00']]));

interface Dev {
  id: string;
  online: boolean;
  fw?: string;
  offlineSince?: string;
  why?: string;
  health: { reconnectsToday: number; errorsToday: number; lastSeen?: string; model?: string; fw?: string; lastError?: { code: string } };
}

describe('reconnects counted from the log (flapping devices written in bursts)', () => {
  it('counts the comebacks an event with `flaps` stands for', () => {
    expect(comebacks(undefined, 'on', 0)).toBe(0); // first seen
    expect(comebacks('off', 'on', 0)).toBe(1);
    expect(comebacks('on', 'on', 0)).toBe(0); // the hub restarted, not the device
    expect(comebacks('on', 'off', 0)).toBe(0);
    expect(comebacks('off', 'on', 1)).toBe(1); // the last change was held back, then written
    expect(comebacks('on', 'on', 2)).toBe(1); // off, on held back
    expect(comebacks('off', 'on', 4)).toBe(3); // on off on off + on
    expect(comebacks('on', 'off', 4)).toBe(2); // off on off on + off
  });
});

describe('device health across a restart', () => {
  let hub: RunningHub;
  let o: { config: string; data: string };
  const devs: TestDevice[] = [];
  const qhub = (args: string[]) => spawnSync(process.execPath, [CLI, ...args, '--config', o.config, '--data', o.data], { encoding: 'utf8', env: { ...process.env, QHUB_SOCKET: '' }, timeout: 30_000 });
  const devices = () => {
    const r = qhub(['devices', '--json']);
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Dev[];
  };
  const health = async () => (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as {
    uptime: number;
    devices: { list: { id: string; online: boolean; reconnectsToday: number; errorsToday: number; offlineSince?: string }[] };
    alerts: { list: { alert: string; since: string }[] };
  };
  const online = async (id: string, want: boolean) =>
    vi.waitFor(async () => expect((await health()).devices.list.find((d) => d.id === id)?.online).toBe(want), { timeout: 15_000, interval: 100 });

  beforeAll(async () => {
    const c = testCenter((doc) => {
      doc.setIn(['center', 'hours'], doc.createNode(ALL_DAY));
      doc.set('alerts', doc.createNode({ deviceOfflineSeconds: 1 }));
    });
    o = { config: c.config, data: join(c.dir, 'data') };
    hub = await startHub(o.config, o.data);
  });
  afterAll(async () => {
    await Promise.all(devs.map((d) => d.close()));
    await hub?.stop();
  });

  it('a keypad that came back 3 times still shows 3 reconnects, its refused request, its firmware and its open alert after a restart', async () => {
    let kp = await connectDevice(hub.mqttPort, 'kp-2', secrets['kp-2']!);
    devs.push(kp);
    await online('kp-2', true);
    const refused = await kp.request('cmd', { cmd: 'open', window: 1 }, 'screen');
    expect(refused.body.code).toBe('forbidden');
    for (let i = 0; i < 3; i++) {
      kp.client.stream.destroy();
      await online('kp-2', false);
      kp = await connectDevice(hub.mqttPort, 'kp-2', secrets['kp-2']!);
      devs.push(kp);
      await online('kp-2', true);
    }
    // The seventh change in a few seconds is held back (at most 6 at once) and written within 10 s.
    await vi.waitFor(() => expect(devices().find((d) => d.id === 'kp-2')?.health.reconnectsToday).toBe(3), { timeout: 30_000, interval: 500 });
    // Away for good: the alert opens.
    kp.client.stream.destroy();
    await vi.waitFor(async () => expect((await health()).alerts.list.map((a) => a.alert)).toContain('device.offline:kp-2'), { timeout: 15_000 });
    const before = (await health()).alerts.list.find((a) => a.alert === 'device.offline:kp-2')!;
    const wentAt = (await health()).devices.list.find((d) => d.id === 'kp-2')!.offlineSince!;
    // kp-1 stays connected through the restart: coming back after the hub's restart is no reconnect of its own.
    devs.push(await connectDevice(hub.mqttPort, 'kp-1', secrets['kp-1']!));
    await online('kp-1', true);

    expect(await hub.stop()).toBe(0);
    hub = await startHub(o.config, o.data);
    devs.push(await connectDevice(hub.mqttPort, 'kp-1', secrets['kp-1']!));
    await online('kp-1', true);

    const list = devices();
    const k2 = list.find((d) => d.id === 'kp-2')!;
    expect(k2.online).toBe(false);
    expect(k2.health).toMatchObject({ reconnectsToday: 3, errorsToday: 1, lastError: { code: 'forbidden' }, model: 'test', fw: '0.0.1', lastSeen: wentAt });
    expect(k2.offlineSince).toBe(wentAt);
    expect(k2.fw).toBe('0.0.1');
    expect(list.find((d) => d.id === 'kp-1')!.health.reconnectsToday).toBe(0);
    // The table says it too.
    const table = qhub(['devices']);
    expect(table.stdout).toMatch(/^kp-2\s+keypad\s+.*OFFLINE\s+\S+\s+\S+\s+3\s+1\s/m);
    expect((await health()).devices.list.find((d) => d.id === 'kp-2')).toMatchObject({ online: false, reconnectsToday: 3, errorsToday: 1, offlineSince: wentAt });

    // The alert open before the restart is open now, with its first time, and stays open past the reconnect grace without a second raise.
    expect((await health()).alerts.list.find((a) => a.alert === 'device.offline:kp-2')?.since).toBe(before.since);
    await vi.waitFor(async () => expect((await health()).uptime).toBeGreaterThanOrEqual(17), { timeout: 30_000, interval: 500 });
    expect((await health()).alerts.list.find((a) => a.alert === 'device.offline:kp-2')?.since).toBe(before.since);
    expect(hub.logs.some((l) => String(l.msg).startsWith('ALERT') && l.device === 'kp-2')).toBe(false);

    // Back: cleared once.
    devs.push(await connectDevice(hub.mqttPort, 'kp-2', secrets['kp-2']!));
    await vi.waitFor(async () => expect((await health()).alerts.list.map((a) => a.alert)).not.toContain('device.offline:kp-2'), { timeout: 15_000 });
    await vi.waitFor(() => expect(devices().find((d) => d.id === 'kp-2')?.health.reconnectsToday).toBe(4), { timeout: 30_000, interval: 500 });
    expect(await hub.stop()).toBe(0);
    const db = new Database(join(o.data, 'qhub.db'), { readonly: true });
    const rows = db.prepare("SELECT type FROM events WHERE type IN ('alert.raised', 'alert.cleared') AND body LIKE '%device.offline:kp-2%' ORDER BY seq").all() as { type: string }[];
    db.close();
    expect(rows.map((r) => r.type)).toEqual(['alert.raised', 'alert.cleared']);
    hub = await startHub(o.config, o.data);
  });
});
