/**
 * Views that cost what changed, checked from outside: a supervisor's MQTT
 * client watches every board, window display and keypad screen of the
 * example center while a long run of commands goes through the running hub
 * (in this process, real broker and store). After each command exactly the
 * devices whose view changed get a message, and every device's last message
 * equals its view recomputed from scratch (state + the day's log).
 */
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadCenter } from '../config/load.js';
import type { DeviceConfig } from '../config/schema.js';
import type { DeviceHub } from '../daemon/devices/hub.js';
import type { Command } from '../contract/queue.js';
import { createHub, type Hub } from '../daemon/hub.js';
import { testCenter } from './helpers/hub.js';
import { captureLog } from './helpers/logs.js';

const SUPERVISOR = 'supervisor-secret-for-views';
const strip = (b: Record<string, unknown>) => {
  const { rev: _r, re: _e, ...rest } = b;
  return JSON.stringify(rest);
};

describe('views: only what changed is sent, and it is always right', () => {
  let hub: Hub;
  let devices: DeviceHub;
  let shown: DeviceConfig[];
  let monitor: mqtt.MqttClient;
  const received: { device: string; body: Record<string, unknown>; qos: number }[] = [];

  beforeAll(async () => {
    const { dir, config } = testCenter();
    const center = loadCenter(config, { QHUB_SUPERVISOR_SECRET: SUPERVISOR });
    hub = createHub({ center, dataDir: join(dir, 'data'), log: captureLog('warn').log, version: 'test' });
    await hub.start();
    devices = hub.devices;
    // Over MQTT: the hall's browser page (a web board) gets its views over its own stream (tests/web.test.ts).
    shown = center.config.devices.filter((d) => (d.kind === 'board' || d.kind === 'display' || d.kind === 'keypad') && d.transport.type !== 'web');
    monitor = await mqtt.connectAsync({ host: '127.0.0.1', port: hub.broker.ports.mqtt!, clientId: 'supervisor', username: 'supervisor', password: SUPERVISOR, protocolVersion: 4 });
    monitor.on('message', (topic, payload, packet) => {
      const [, , device] = topic.split('/');
      received.push({ device: device!, body: JSON.parse(payload.toString()) as Record<string, unknown>, qos: packet.qos });
    });
    await monitor.subscribeAsync(['qhub/dev/+/display', 'qhub/dev/+/screen'], { qos: 1 });
    await vi.waitFor(() => expect(new Set(received.map((m) => m.device)).size).toBe(shown.length));
  });

  afterAll(async () => {
    await monitor?.endAsync();
    await hub?.stop();
  });

  it('over 120 commands of a busy morning', async () => {
    const latest = () => {
      const m = new Map<string, string>();
      for (const r of received) m.set(r.device, strip(r.body));
      return m;
    };
    const expected = () => new Map(shown.map((d) => [d.id, strip(devices.recompute(d)!.view as unknown as Record<string, unknown>)]));
    let before = expected();
    expect(latest()).toEqual(before);

    // A deterministic mix of what a center does: tickets for every service, calls, recalls, transfers, no-shows, breaks.
    const services = ['intake', 'treasury', 'delivery', 'inquiry', 'complaints'];
    const windows = hub.ctx.config.windows.map((w) => w.number);
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    let sent = 0;
    let changedTotal = 0;
    for (let step = 0; step < 120; step++) {
      const w = windows[rnd(windows.length)]!;
      const r = rnd(20);
      const cmd: Command =
        r < 7 ? { type: 'issue', service: services[rnd(services.length)]! }
        : r < 12 ? { type: 'next', window: w }
        : r < 13 ? { type: 'recall', window: w }
        : r < 14 ? { type: 'transfer', window: w, service: 'treasury' }
        : r < 15 ? { type: 'noShow', window: w }
        : r < 17 ? { type: 'finish', window: w }
        : r < 18 ? { type: 'pause', window: w, reason: 'prayer' }
        : r < 19 ? { type: 'start', window: w }
        : { type: 'open', window: w };
      const mark = received.length;
      await hub.ctx.core.submit(cmd); // refused commands change nothing and must send nothing
      await hub.ctx.bus.idle();
      const after = expected();
      const changed = [...after].filter(([id, v]) => before.get(id) !== v).map(([id]) => id).sort();
      changedTotal += changed.length;
      await vi.waitFor(() => {
        const now = latest();
        for (const id of changed) expect(now.get(id), `${id} after ${JSON.stringify(cmd)}`).toBe(after.get(id));
      });
      await new Promise((res) => setTimeout(res, 30)); // anything unexpected would arrive by now
      const got = [...new Set(received.slice(mark).map((m) => m.device))].sort();
      expect(got, `devices messaged after ${JSON.stringify(cmd)}`).toEqual(changed);
      sent += received.length - mark;
      expect(latest()).toEqual(after);
      before = after;
    }
    // The same rev always carries the same content, per device (docs/PROTOCOL.md, "Revisions").
    const byRev = new Map<string, string>();
    for (const m of received) {
      const k = `${m.device}@${String(m.body.rev)}`;
      const content = strip(m.body);
      if (byRev.has(k)) expect(byRev.get(k), k).toBe(content);
      byRev.set(k, content);
    }
        // Retained state goes at QoS 0 (docs/PROTOCOL.md, section 4), even to a QoS 1 subscription.
    expect(new Set(received.map((m) => m.qos))).toEqual(new Set([0]));
    // Every view went out once per change, never once per device per command.
    expect(sent).toBe(changedTotal);
    expect(sent).toBeLessThan(120 * shown.length * 0.3);
  });
});
