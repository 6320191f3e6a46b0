/**
 * The hub's spine, in one process with its real parts: the module list, the
 * bus, the SQLite store, the embedded broker on an ephemeral port and
 * devices as real mqtt.js clients. Extra modules stand in for the
 * capabilities to come (forwarder, reports): one whose listener throws on
 * every event, one that hangs, one that only counts, and one that cannot
 * start.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadCenter } from '../config/load.js';
import { createHub, type Hub } from '../daemon/hub.js';
import type { StoredEvent } from '../contract/queue.js';
import type { HubModule } from '../daemon/spine/module.js';
import { connectDevice, exampleSecrets, testCenter, type TestDevice } from './helpers/hub.js';
import { captureLog } from './helpers/logs.js';

const secrets = exampleSecrets();

describe('spine: modules and an isolating bus in the running hub', () => {
  let hub: Hub;
  const { log, lines } = captureLog();
  const counted: StoredEvent[] = [];
  const devs: TestDevice[] = [];
  let faultyCalls = 0;

  beforeAll(async () => {
    const { dir, config } = testCenter();
    const center = loadCenter(config, { QHUB_SUPERVISOR_SECRET: 'supervisor-secret-1' });
    hub = createHub({
      center,
      dataDir: join(dir, 'data'),
      log,
      version: 'test',
      extra: (ctx): HubModule[] => [
        {
          name: 'faulty',
          start: () =>
            void ctx.bus.on('committed', 'faulty', () => {
              faultyCalls++;
              throw new Error('faulty listener: boom');
            }),
          stop: () => undefined,
        },
        { name: 'hangs', start: () => void ctx.bus.on('committed', 'hangs', () => new Promise<void>(() => undefined)), stop: () => undefined },
        { name: 'counter', start: () => void ctx.bus.on('committed', 'counter', ({ events }) => void counted.push(...events)), stop: () => undefined },
        {
          name: 'cannot-start',
          start: () => {
            throw new Error('no such backend configured');
          },
          stop: () => undefined,
        },
      ],
    });
    await hub.start();
  });

  afterAll(async () => {
    await Promise.all(devs.map((d) => d.close()));
    await hub.stop();
  });

  const dev = async (id: string) => {
    const d = await connectDevice(hub.broker.ports.mqtt!, id, secrets[id]!);
    devs.push(d);
    return d;
  };

  it('every device still gets its reply and its views while one listener throws on every event and another hangs', async () => {
    const disp = await dev('disp-1');
    const kp = await dev('kp-1');
    const board = await dev('board-1');
    const wd = await dev('wd-1');
    for (let i = 0; i < 5; i++) {
      const t = await disp.request('press', { service: 'intake' }, 'ticket');
      expect(t.leaf).toBe('ticket');
    }
    for (let i = 1; i <= 3; i++) {
      const s = await kp.request('cmd', { cmd: 'next' }, 'screen');
      expect(s.body).toMatchObject({ w: 1, t: `A00${i}`, status: 'called' });
      await board.waitFor('display', (b) => (b.flash as { t: string } | null)?.t === `A00${i}`);
      await wd.waitFor('display', (b) => b.t === `A00${i}`);
    }
    // The other listeners ran for every commit, in order.
    await vi.waitFor(() => expect(counted.filter((e) => e.type === 'ticket.called')).toHaveLength(3));
    const seqs = counted.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(counted.filter((e) => e.type === 'ticket.issued')).toHaveLength(5);
    expect(counted.filter((e) => e.type === 'ticket.called')).toHaveLength(3);
    expect(faultyCalls).toBeGreaterThanOrEqual(8);
  });

  it('logs the failures with a count, and /health shows them, the hanging listener and the module that could not start', async () => {
    const errors = lines.filter((l) => l.listener === 'faulty');
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors[0]).toMatchObject({ level: 50, event: 'committed', failures: 1 });
    expect(lines.some((l) => l.mod === 'cannot-start' && String(l.msg).includes('the hub runs on without it'))).toBe(true);

    const res = await fetch(`http://127.0.0.1:${hub.http.port}/health`);
    expect(res.status).toBe(200); // degraded, but every essential module runs
    const h = (await res.json()) as {
      status: string;
      seq: number;
      modules: { name: string; state: string; ok: boolean; error?: string }[];
      listeners: { owner: string; failed: number; delivered: number; pending: number }[];
    };
    expect(h.status).toBe('degraded');
    expect(h.modules.map((m) => m.name)).toEqual(['core', 'mqtt', 'web', 'devices', 'device-health', 'announcer', 'schedules', 'alerts', 'fallbacks', 'selftest', 'reports', 'metrics', 'backup', 'hall-log', 'api', 'faulty', 'hangs', 'counter', 'cannot-start', 'http']);
    expect(h.modules.find((m) => m.name === 'cannot-start')).toMatchObject({ state: 'failed', ok: false, error: 'no such backend configured' });
    expect(h.modules.filter((m) => m.name !== 'cannot-start').every((m) => m.state === 'running')).toBe(true);
    expect(h.listeners.find((l) => l.owner === 'faulty')!.failed).toBe(faultyCalls);
    expect(h.listeners.find((l) => l.owner === 'devices')).toMatchObject({ failed: 0 });
    expect(h.listeners.find((l) => l.owner === 'hangs')!.pending).toBeGreaterThan(0);
  });

  it('the rollover timer path is isolated too: a commit with no device request still reaches the others', async () => {
    const before = counted.length;
    const r = await hub.ctx.core.submit({ type: 'open', window: 2, source: 'test', id: 'open-2' });
    expect(r.ok).toBe(true);
    await vi.waitFor(() => expect(counted.length).toBe(before + 1));
    expect(counted.at(-1)).toMatchObject({ type: 'window.opened', window: 2, source: 'test', v: 2 });
  });
});
