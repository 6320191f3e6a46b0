/**
 * The event bus on its own: what the Core relies on when it announces a
 * commit. Listeners run after the emitter returned, each in its own queue,
 * and one that throws or hangs costs the others nothing.
 */
import { describe, expect, it } from 'vitest';
import { Bus } from '../daemon/spine/bus.js';
import { captureLog } from './helpers/logs.js';

type Events = { committed: number };
const tick = () => new Promise((r) => setTimeout(r, 10));

describe('event bus', () => {
  it('delivers after the emitter has returned, in emit order, to every listener', async () => {
    const { log } = captureLog();
    const bus = new Bus<Events>({ log });
    const order: string[] = [];
    bus.on('committed', 'a', (n) => void order.push(`a${n}`));
    bus.on('committed', 'b', (n) => void order.push(`b${n}`));
    bus.emit('committed', 1);
    bus.emit('committed', 2);
    order.push('reply'); // what the emitter does right after a commit: answer the device
    await bus.idle();
    expect(order[0]).toBe('reply');
    expect(order.filter((x) => x.startsWith('a'))).toEqual(['a1', 'a2']);
    expect(order.filter((x) => x.startsWith('b'))).toEqual(['b1', 'b2']);
  });

  it('a listener that throws on every event: the others get every event, the failures are logged with a count', async () => {
    const { log, lines } = captureLog();
    const bus = new Bus<Events>({ log });
    const got: number[] = [];
    bus.on('committed', 'faulty', () => {
      throw new Error('boom');
    });
    bus.on('committed', 'boards', (n) => void got.push(n));
    for (let i = 1; i <= 50; i++) bus.emit('committed', i);
    await bus.idle();
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const s = bus.stats();
    expect(s.find((l) => l.owner === 'faulty')).toMatchObject({ failed: 50, delivered: 0, pending: 0, lastError: 'boom' });
    expect(s.find((l) => l.owner === 'boards')).toMatchObject({ failed: 0, delivered: 50 });
    // One line for the burst, not fifty: the journal stays readable.
    const errors = lines.filter((l) => l.listener === 'faulty');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ level: 50, failures: 1, event: 'committed' });
    expect(String(errors[0]!.msg)).toContain('the others carry on');
  });

  it('a slow async listener delays only itself; one that never settles is given up after stuckMs', async () => {
    const { log, lines } = captureLog();
    const bus = new Bus<Events>({ log, stuckMs: 100 });
    const fast: number[] = [];
    const slow: number[] = [];
    bus.on('committed', 'hangs', (n) => {
      slow.push(n);
      return new Promise<void>(() => undefined); // never settles
    });
    bus.on('committed', 'fast', (n) => void fast.push(n));
    bus.emit('committed', 1);
    bus.emit('committed', 2);
    await tick();
    expect(fast).toEqual([1, 2]);
    expect(slow).toEqual([1]); // its own queue waits
    await new Promise((r) => setTimeout(r, 300));
    expect(slow).toEqual([1, 2]); // given up on event 1 after 100 ms, then got event 2
    expect(bus.stats().find((l) => l.owner === 'hangs')!.failed).toBeGreaterThanOrEqual(1);
    expect(lines.some((l) => l.listener === 'hangs' && String((l.err as { message?: string })?.message).includes('still running after 100 ms'))).toBe(true);
  });

  it('a removed listener gets nothing more', async () => {
    const { log } = captureLog();
    const bus = new Bus<Events>({ log });
    const got: number[] = [];
    const off = bus.on('committed', 'x', (n) => void got.push(n));
    bus.emit('committed', 1);
    await bus.idle();
    off();
    bus.emit('committed', 2);
    await bus.idle();
    expect(got).toEqual([1]);
  });
});
