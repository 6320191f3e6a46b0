/**
 * What the forwarders share: a pump that sends from a durable cursor one
 * pass at a time (woken by commits, retried after failures), and the backlog
 * figures behind each one's /health entry.
 */
import type { CenterConfig } from '../../config/schema.js';
import type { Store } from '../store/store.js';

/**
 * Runs `pass` when woken, never two at once. `pass` sends what it can and
 * returns a delay to retry after, or undefined when it drained the log; if
 * events arrived meanwhile, it runs again after `lingerMs`.
 */
export class Pump {
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;

  constructor(
    private readonly pass: () => Promise<number | undefined>,
    private readonly pending: () => boolean,
    private readonly lingerMs: number,
  ) {}

  /** Runs soon (after `delay`), unless a pass is running or a retry is already scheduled. */
  wake(delay = this.lingerMs): void {
    if (this.stopped || this.running || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, delay);
    this.timer.unref();
  }

  /** Runs now, dropping a scheduled retry (the backend is known to be back); nothing if a pass is running. */
  now(): void {
    if (this.stopped || this.running) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    void this.run();
  }

  private async run(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    let retryIn: number | undefined;
    try {
      retryIn = await this.pass();
    } finally {
      this.running = false;
      if (retryIn !== undefined) this.wake(retryIn);
      else if (!this.stopped && this.pending()) this.wake();
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}

/** How far behind a cursor is: events waiting, the oldest one's age, and whether that is past forward.alert. */
export function backlog(store: Store, cursorName: string, alert: CenterConfig['forward']['alert']): { cursor: number; backlog: number; oldestMinutes: number; ok: boolean } {
  const cursor = store.isOpen ? store.cursor(cursorName) : 0;
  const waiting = store.lastSeq - cursor;
  const oldest = waiting > 0 && store.isOpen ? store.readAfter(cursor, 1)[0] : undefined;
  const oldestMinutes = oldest ? Math.round((Date.now() - oldest.at) / 6000) / 10 : 0;
  return { cursor, backlog: waiting, oldestMinutes, ok: waiting <= alert.backlog && oldestMinutes <= alert.oldestMinutes };
}
