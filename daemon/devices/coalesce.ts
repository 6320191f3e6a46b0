/**
 * Per-device view coalescing: a view that changes often but that nobody acts
 * on at once (a keypad's waiting count, a board's rows thinning out) is sent
 * to a device at most once per `intervalMs`, the newest held one winning;
 * what a person acts on (a reply, a called number, a flash) goes at once and
 * supersedes anything held. Pure apart from the clock and the timer, which
 * are inputs (tests drive them by hand).
 *
 * Owns: per device, when it was last sent something and the one send held
 * back. May touch: nothing; the caller's `send` does the sending.
 */

export interface CoalescerContext {
  /** Monotonic milliseconds (performance.now() in the daemon). */
  now(): number;
  /** Runs `fn` after `ms`; returns a function that cancels it. */
  later(ms: number, fn: () => void): () => void;
  /** The least time between two sends to one device when the second could wait. */
  intervalMs: number;
}

/** Node's timers, unref'd (a held view never keeps the process alive), with performance.now(). */
export function realClock(intervalMs: number): CoalescerContext {
  return {
    intervalMs,
    now: () => performance.now(),
    later: (ms, fn) => {
      const t = setTimeout(fn, ms);
      t.unref?.();
      return () => clearTimeout(t);
    },
  };
}

export class Coalescer<K> {
  private readonly lastAt = new Map<K, number>();
  private readonly held = new Map<K, { send: () => void; cancel: () => void }>();
  /** Sends made at once and sends held back (then sent or superseded), for /health and the bench. */
  readonly counts = { now: 0, held: 0, superseded: 0 };

  constructor(private readonly ctx: CoalescerContext) {}

  /**
   * Offers one send for a device. `urgent`: sent now, and a held one is
   * dropped (the caller's newest view contains it). Otherwise sent now when
   * the device got nothing for `intervalMs`, else held until then, replacing
   * whatever was held (newest wins). Returns whether it was sent now.
   */
  offer(key: K, urgent: boolean, send: () => void): boolean {
    const now = this.ctx.now();
    const last = this.lastAt.get(key);
    if (urgent || last === undefined || now - last >= this.ctx.intervalMs) {
      this.drop(key);
      this.lastAt.set(key, now);
      this.counts.now++;
      send();
      return true;
    }
    const h = this.held.get(key);
    if (h) {
      h.send = send; // newest wins; the timer already runs
      this.counts.superseded++;
      return false;
    }
    this.counts.held++;
    const entry = {
      send,
      cancel: this.ctx.later(last + this.ctx.intervalMs - now, () => {
        this.held.delete(key);
        this.lastAt.set(key, this.ctx.now());
        entry.send();
      }),
    };
    this.held.set(key, entry);
    return false;
  }

  /** Drops what is held for a device (its view went back to what it shows). */
  drop(key: K): void {
    const h = this.held.get(key);
    if (!h) return;
    h.cancel();
    this.held.delete(key);
  }

  /** Whether a send is held for a device. */
  holds(key: K): boolean {
    return this.held.has(key);
  }

  /** Forgets a device (removed from the config). */
  forget(key: K): void {
    this.drop(key);
    this.lastAt.delete(key);
  }

  /** Cancels every held send (the hub stops; devices get their state again at the next start). */
  stop(): void {
    for (const h of this.held.values()) h.cancel();
    this.held.clear();
  }
}
