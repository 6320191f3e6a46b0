/**
 * The hub's typed event bus. A publisher (the Core after a commit, a device
 * link) calls `emit` and returns at once: nothing a listener does can delay
 * a reply, skip another listener or end the process.
 *
 * - Delivery happens after the emitting code has returned (setImmediate), so
 *   a device's reply goes out before boards, voice or forwarders start work.
 * - Each listener has its own queue and sees every event in emit order. An
 *   async listener gets the next event only when its promise settled; others
 *   are not held up by it. A promise that never settles is given up after
 *   `stuckMs` (logged, counted) and the queue moves on.
 * - A listener that throws is logged (at most once per 10 s per listener,
 *   with a count of the failures in between) and counted; `stats()` feeds
 *   /health.
 */
import type { Logger } from 'pino';
import { Throttle } from './throttle.js';

export type Listener<T> = (payload: T) => void | Promise<void>;

export interface ListenerStats {
  owner: string;
  event: string;
  delivered: number;
  failed: number;
  pending: number;
  lastError?: string;
  /** Seconds since the last failure. */
  lastFailureAgo?: number;
}

interface Entry<T> {
  owner: string;
  event: string;
  fn: Listener<T>;
  queue: T[];
  busy: boolean;
  delivered: number;
  failed: number;
  lastError?: string;
  lastFailureAt?: number;
  removed: boolean;
}

export interface BusOptions {
  log: Logger;
  /** An async listener still running after this long is given up on for that event. */
  stuckMs?: number;
  /** A queue longer than this is reported (once per minute per listener). */
  backlogWarn?: number;
  /**
   * While this says yes (commands wait to be decided), deliveries step aside
   * for one turn of the event loop, at most twice in a row: replies to
   * devices go before views of earlier commands, and views still follow.
   */
  yieldWhile?: () => boolean;
}

export class Bus<Events extends { [K in keyof Events]: unknown }> {
  private readonly listeners = new Map<keyof Events, Entry<unknown>[]>();
  private readonly failLog = new Throttle(10_000);
  private readonly backlogLog = new Throttle(60_000);

  constructor(private readonly opts: BusOptions) {}

  /** Adds a listener, named after its owner (a module) for logs and /health; returns its removal. */
  on<K extends keyof Events>(event: K, owner: string, fn: Listener<Events[K]>): () => void {
    const entry: Entry<Events[K]> = { owner, event: String(event), fn, queue: [], busy: false, delivered: 0, failed: 0, removed: false };
    const list = this.listeners.get(event) ?? [];
    list.push(entry as Entry<unknown>);
    this.listeners.set(event, list);
    return () => {
      entry.removed = true;
      entry.queue.length = 0;
      const l = this.listeners.get(event);
      if (l) this.listeners.set(event, l.filter((e) => e !== (entry as Entry<unknown>)));
    };
  }

  /** Queues the payload for every listener of `event`; never throws, never waits. */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    for (const entry of this.listeners.get(event) ?? []) {
      entry.queue.push(payload);
      const warn = this.opts.backlogWarn ?? 1000;
      if (entry.queue.length > warn && this.backlogLog.pass(entry.owner).ok)
        this.opts.log.warn({ mod: 'bus', listener: entry.owner, event: entry.event, pending: entry.queue.length }, 'a listener falls behind: events wait for it');
      if (!entry.busy) {
        entry.busy = true;
        setImmediate(() => void this.drain(entry));
      }
    }
  }

  /** Resolves when every queue is empty (for an orderly stop, and for tests). */
  async idle(timeoutMs = 5000): Promise<boolean> {
    const until = performance.now() + timeoutMs;
    for (;;) {
      const busy = [...this.listeners.values()].flat().some((e) => e.busy || e.queue.length);
      if (!busy) return true;
      if (performance.now() > until) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  stats(): ListenerStats[] {
    const now = performance.now();
    return [...this.listeners.values()].flat().map((e) => ({
      owner: e.owner,
      event: e.event,
      delivered: e.delivered,
      failed: e.failed,
      pending: e.queue.length,
      ...(e.lastError ? { lastError: e.lastError } : {}),
      ...(e.lastFailureAt !== undefined ? { lastFailureAgo: Math.round((now - e.lastFailureAt) / 1000) } : {}),
    }));
  }

  /**
   * One turn of the event loop, then, while commands wait to be decided, up
   * to two more: requests read from the sockets meanwhile are decided and
   * answered before the caller goes on. Every delivery starts with it; a
   * listener with a long piece of work (a fan-out to many devices) calls it
   * between slices, so a reply never waits for views of earlier commands.
   */
  async breathe(): Promise<void> {
    await new Promise((r) => setImmediate(r));
    for (let yields = 0; yields < 2 && this.opts.yieldWhile?.(); yields++) await new Promise((r) => setImmediate(r));
  }

  private async drain(entry: Entry<unknown>): Promise<void> {
    // What the emitter started (a reply being written by the broker) goes out before views.
    await this.breathe();
    while (entry.queue.length && !entry.removed) {
      const payload = entry.queue.shift();
      try {
        const r = entry.fn(payload);
        if (r && typeof (r as Promise<void>).then === 'function') await this.settle(entry, r as Promise<void>);
        entry.delivered++;
      } catch (e) {
        this.failed(entry, e);
      }
    }
    entry.busy = false;
  }

  private settle(entry: Entry<unknown>, p: Promise<void>): Promise<void> {
    const stuckMs = this.opts.stuckMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<void>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still running after ${stuckMs} ms: given up for this event`)), stuckMs);
      timer.unref();
    });
    return Promise.race([p, stuck]).finally(() => clearTimeout(timer));
  }

  private failed(entry: Entry<unknown>, e: unknown): void {
    entry.failed++;
    entry.lastError = e instanceof Error ? e.message : String(e);
    entry.lastFailureAt = performance.now();
    const t = this.failLog.pass(`${entry.owner}/${entry.event}`);
    if (t.ok)
      this.opts.log.error(
        { mod: 'bus', listener: entry.owner, event: entry.event, failures: entry.failed, since: t.held, err: e },
        `listener "${entry.owner}" failed on ${entry.event} (${entry.failed} time${entry.failed === 1 ? '' : 's'} so far): the others carry on`,
      );
  }
}
