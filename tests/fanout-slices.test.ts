/**
 * A long fan-out does not hold a clerk's reply: a hall with 400 boards in
 * one zone (the hub, in this process, with its real broker and store), a
 * call that changes all 400, and a keypad that presses "next" as soon as
 * the first board shows that call. The keypad's reply reaches the MQTT stream before the last of the 400
 * boards gets its view, because the fan-out gives the loop a turn after each
 * slice of work and waiting commands go first (daemon/devices/hub.ts,
 * FANOUT_SLICE_MS). Boards of one zone share one view, so every board ends
 * showing the same thing, and the newest.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadCenter } from '../config/load.js';
import { createHub, type Hub } from '../daemon/hub.js';
import { captureLog } from './helpers/logs.js';
import { connectDevice, exampleSecrets, testCenter, type TestDevice } from './helpers/hub.js';

const BOARDS = 400;
const SUPERVISOR = 'supervisor-secret-for-fanout';
const ids = Array.from({ length: BOARDS }, (_, i) => `fan-${i + 1}`);

describe('a fan-out to 400 boards and a keypad pressing during it', () => {
  let hub: Hub;
  let monitor: mqtt.MqttClient;
  let kp: TestDevice;
  const stream: { device: string; leaf: string; body: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    const { dir, config } = testCenter((doc) => {
      for (const id of ids) doc.addIn(['devices'], doc.createNode({ id, kind: 'board', model: 'qhub-board-4row', bind: { zone: 'hall' } }));
    });
    appendFileSync(join(dir, 'center.example.secrets.yaml'), ids.map((id) => `${id}: secret-of-${id}-0123456789\n`).join(''));
    const center = loadCenter(config, { QHUB_SUPERVISOR_SECRET: SUPERVISOR });
    hub = createHub({ center, dataDir: join(dir, 'data'), log: captureLog('warn').log, version: 'test' });
    await hub.start();
    monitor = await mqtt.connectAsync({ host: '127.0.0.1', port: hub.broker.ports.mqtt!, clientId: 'supervisor', username: 'supervisor', password: SUPERVISOR, protocolVersion: 4 });
    monitor.on('message', (topic, payload) => {
      const [, , device, leaf] = topic.split('/');
      stream.push({ device: device!, leaf: leaf!, body: JSON.parse(payload.toString()) as Record<string, unknown> });
    });
    await monitor.subscribeAsync(['qhub/dev/+/display', 'qhub/dev/kp-2/screen'], { qos: 0 });
    // Every board's retained view has arrived: the stream from here on is what the calls send.
    await vi.waitFor(() => expect(new Set(stream.filter((m) => m.device.startsWith('fan-')).map((m) => m.device)).size).toBe(BOARDS), { timeout: 30_000 });
    kp = await connectDevice(hub.broker.ports.mqtt!, 'kp-2', exampleSecrets()['kp-2']!);
    for (let i = 0; i < 3; i++) expect((await hub.ctx.core.submit({ type: 'issue', service: 'intake' })).ok).toBe(true);
    await hub.ctx.bus.idle();
  }, 60_000);

  afterAll(async () => {
    await kp?.close();
    await monitor?.endAsync();
    await hub?.stop();
  });

  it("the keypad's reply goes out before the last board's view, and every board ends on the newest call", async () => {
    await vi.waitFor(() => expect(stream.at(-1)).toBeDefined());
    const mark = stream.length;
    // Window 2's clerk presses "next" as soon as the first board shows window 1's call, i.e. while that fan-out runs.
    const pressed = new Promise<Awaited<ReturnType<TestDevice['request']>>>((resolve, reject) => {
      const onMessage = (topic: string) => {
        if (!topic.startsWith('qhub/dev/fan-')) return;
        monitor.off('message', onMessage);
        kp.request('cmd', { cmd: 'next' }, 'screen', 30_000).then(resolve, reject);
      };
      monitor.on('message', onMessage);
    });
    // Window 1 calls; its fan-out to the 400 boards starts a turn after the commit.
    const first = await hub.ctx.core.submit({ type: 'next', window: 1 });
    expect(first.ok).toBe(true);
    const reply = await pressed;
    expect(reply.leaf).toBe('screen');
    const second = reply.body.t as string;
    expect(typeof second).toBe('string');
    await hub.ctx.bus.idle(30_000);
    // Every board shows the newest call flashing, window 2's.
    await vi.waitFor(() => {
      const last = new Map<string, Record<string, unknown>>();
      for (const m of stream.slice(mark)) if (m.device.startsWith('fan-')) last.set(m.device, m.body);
      expect(last.size).toBe(BOARDS);
      for (const b of last.values()) expect(b.flash).toMatchObject({ t: second, w: 2 });
    }, { timeout: 30_000 });
    const after = stream.slice(mark);
    const replyAt = after.findIndex((m) => m.device === 'kp-2' && m.leaf === 'screen' && m.body.re === reply.body.re);
    const boardsFirstAt = new Map<string, number>();
    after.forEach((m, i) => {
      if (m.device.startsWith('fan-') && !boardsFirstAt.has(m.device)) boardsFirstAt.set(m.device, i);
    });
    const lastBoardAt = Math.max(...boardsFirstAt.values());
    expect(replyAt, 'the reply is in the stream').toBeGreaterThanOrEqual(0);
    // Without the slices, the reply waited behind all 400 boards' views of window 1's call.
    expect(replyAt, `reply at ${replyAt} of ${after.length} messages; the last board's first view at ${lastBoardAt}`).toBeLessThan(lastBoardAt);
  }, 90_000);
});
