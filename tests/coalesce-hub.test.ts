/**
 * View coalescing in the running hub (compiled daemon, real MQTT clients):
 * several intake windows call in a burst; a keypad of the same service that
 * does nothing gets its waiting count a bounded number of times (newest
 * wins, at most one per VIEW_INTERVAL_MS) and ends showing the right count,
 * while each calling keypad's reply and the hall board's called number come
 * at once.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VIEW_INTERVAL_MS } from '../daemon/devices/hub.js';
import { connectDevice, exampleSecrets, startHub, testCenter, type RunningHub, type TestDevice } from './helpers/hub.js';

const TICKETS = 40;
const CALLS = 30;

describe('running hub: a waiting count that changes often is sent at a bounded rate', () => {
  let hub: RunningHub;
  const devs: Record<string, TestDevice> = {};

  beforeAll(async () => {
    const { dir, config } = testCenter((doc) => {
      doc.setIn(['hub', 'mqtt', 'messagesPerSecond'], 1000);
      doc.setIn(['hub', 'mqtt', 'burst'], 1000);
    });
    hub = await startHub(config, join(dir, 'data'));
    const secrets = exampleSecrets();
    for (const id of ['disp-1', 'kp-1', 'kp-2', 'kp-3', 'kp-4', 'board-1']) devs[id] = await connectDevice(hub.mqttPort, id, secrets[id]!);
  });

  afterAll(async () => {
    for (const d of Object.values(devs)) await d.close();
    await hub?.stop();
  });

  it(`${CALLS} calls in a burst: the idle keypad of the service gets few updates, the last one right`, async () => {
    for (let i = 0; i < TICKETS; i++) {
      const r = await devs['disp-1']!.request('press', { service: 'intake' }, 'ticket', 10_000);
      expect(r.leaf).toBe('ticket');
    }
    const observer = devs['kp-4']!; // window 4 serves intake (and complaints) and presses nothing
    await observer.waitFor('screen', (b) => b.waiting === TICKETS, 10_000);

    const mark = observer.mark();
    const t0 = performance.now();
    const callers = [devs['kp-1']!, devs['kp-2']!, devs['kp-3']!];
    let last = '';
    for (let i = 0; i < CALLS; i++) {
      const kp = callers[i % callers.length]!;
      const boardMark = devs['board-1']!.mark();
      const r = await kp.request('cmd', { cmd: 'next' }, 'screen', 10_000);
      // The reply is never held back: it carries the called number.
      expect(r.leaf).toBe('screen');
      expect(typeof r.body.t).toBe('string');
      last = r.body.t as string;
      // Nor is the called number on the hall board.
      await devs['board-1']!.waitFor('display', (b) => (b.flash as { t?: string } | null)?.t === last, 10_000, boardMark);
    }
    const final = await observer.waitFor('screen', (b) => b.waiting === TICKETS - CALLS, 10_000, mark);
    const elapsed = performance.now() - t0;
    expect(final.t).toBeNull();

    const updates = observer.messages.slice(mark).filter((m) => m.topic.endsWith('/screen')).map((m) => m.body.waiting as number);
    // At most one update per interval (plus the one at the start of the burst), and fewer than one per call.
    expect(updates.length, `updates ${JSON.stringify(updates)} in ${Math.round(elapsed)} ms`).toBeLessThanOrEqual(2 + Math.ceil(elapsed / VIEW_INTERVAL_MS));
    expect(updates.length).toBeLessThan(CALLS);
    // Newest wins: the count shown only goes down during the burst, never back to an older value.
    for (let i = 1; i < updates.length; i++) expect(updates[i]).toBeLessThan(updates[i - 1]!);
    // Asked for its screen, the keypad gets the same count: nothing newer was still held.
    const asked = await observer.request('cmd', { cmd: 'screen' }, 'screen', 10_000);
    expect(asked.body.waiting).toBe(TICKETS - CALLS);
    // /health counts the sends held back.
    const health = (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as { modules: { name: string; detail?: { viewSends?: { held: number } } }[] };
    expect(health.modules.find((m) => m.name === 'devices')?.detail?.viewSends?.held).toBeGreaterThan(0);
  });
});
