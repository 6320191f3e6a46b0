/**
 * The per-device coalescer on a hand-driven clock: sends that may wait go at
 * most once per interval per device, the newest held one wins, and an urgent
 * send goes at once and drops what was held.
 */
import { describe, expect, it } from 'vitest';
import { Coalescer } from '../daemon/devices/coalesce.js';

function clock(intervalMs: number) {
  let t = 0;
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  return {
    ctx: {
      intervalMs,
      now: () => t,
      later: (ms: number, fn: () => void) => {
        const x = { at: t + ms, fn, live: true };
        timers.push(x);
        return () => (x.live = false);
      },
    },
    /** Moves the clock on, running the timers that fall due, in order. */
    advance(ms: number) {
      const end = t + ms;
      for (;;) {
        const due = timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        t = due.at;
        due.live = false;
        due.fn();
      }
      t = end;
    },
  };
}

describe('view coalescer', () => {
  it('sends a burst of waiting counts to one device at most once per interval, the last value last', () => {
    const c = clock(250);
    const co = new Coalescer<string>(c.ctx);
    const shown: { at: number; waiting: number }[] = [];
    // 100 changes, one every 5 ms (a hall calling flat out): 500 ms of them.
    for (let i = 1; i <= 100; i++) {
      co.offer('kp-1', false, () => shown.push({ at: c.ctx.now(), waiting: 100 - i }));
      c.advance(5);
    }
    c.advance(1000);
    expect(shown.length).toBeLessThanOrEqual(4); // at 0, 250, 500 and the held last one
    expect(shown.at(-1)!.waiting).toBe(0);
    for (let i = 1; i < shown.length; i++) expect(shown[i]!.at - shown[i - 1]!.at).toBeGreaterThanOrEqual(250);
  });

  it('sends an urgent view at once and drops the held one it supersedes', () => {
    const c = clock(250);
    const co = new Coalescer<string>(c.ctx);
    const sent: string[] = [];
    expect(co.offer('kp-1', false, () => sent.push('waiting 5'))).toBe(true);
    c.advance(10);
    expect(co.offer('kp-1', false, () => sent.push('waiting 4'))).toBe(false);
    expect(co.holds('kp-1')).toBe(true);
    c.advance(10);
    expect(co.offer('kp-1', true, () => sent.push('reply: A042 called, waiting 3'))).toBe(true);
    expect(co.holds('kp-1')).toBe(false);
    c.advance(1000);
    expect(sent).toEqual(['waiting 5', 'reply: A042 called, waiting 3']);
  });

  it('keeps devices apart: one device held back does not hold another', () => {
    const c = clock(250);
    const co = new Coalescer<string>(c.ctx);
    const sent: string[] = [];
    co.offer('kp-1', false, () => sent.push('kp-1 a'));
    co.offer('kp-1', false, () => sent.push('kp-1 b'));
    co.offer('kp-2', false, () => sent.push('kp-2 a'));
    expect(sent).toEqual(['kp-1 a', 'kp-2 a']);
    c.advance(250);
    expect(sent).toEqual(['kp-1 a', 'kp-2 a', 'kp-1 b']);
  });

  it('drops a held send when the view goes back to what the device shows, and stop cancels the rest', () => {
    const c = clock(250);
    const co = new Coalescer<string>(c.ctx);
    const sent: string[] = [];
    co.offer('kp-1', false, () => sent.push('5'));
    co.offer('kp-1', false, () => sent.push('6'));
    co.drop('kp-1');
    co.offer('kp-2', false, () => sent.push('kp-2 a'));
    co.offer('kp-2', false, () => sent.push('kp-2 b'));
    co.stop();
    c.advance(1000);
    expect(sent).toEqual(['5', 'kp-2 a']);
  });
});
