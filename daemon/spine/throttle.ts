/**
 * "At most once per interval per key", on the monotonic clock (a wall clock
 * that NTP steps would either silence a message for hours or repeat it).
 * Counts what it held back so the next line can say how many.
 */
export class Throttle {
  private readonly last = new Map<string, { at: number; held: number }>();

  constructor(private readonly intervalMs: number) {}

  /** Whether to act now for `key`; when yes, also how many were held back since the last time. */
  pass(key: string): { ok: true; held: number } | { ok: false } {
    const now = performance.now();
    const e = this.last.get(key);
    if (e && now - e.at < this.intervalMs) {
      e.held++;
      return { ok: false };
    }
    const held = e?.held ?? 0;
    this.last.set(key, { at: now, held: 0 });
    if (this.last.size > 10_000) this.prune(now);
    return { ok: true, held };
  }

  private prune(now: number): void {
    for (const [k, e] of this.last) if (now - e.at >= this.intervalMs && e.held === 0) this.last.delete(k);
  }
}
