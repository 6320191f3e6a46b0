/**
 * Timed work: the business-day rollover now (checked every 15 s, so it
 * happens at the configured local time even when nobody presses anything);
 * later the cron-like jobs (backups, reports). A failing job is logged and
 * retried at its next turn; it never ends the process.
 *
 * Owns: its timers. May touch: the core (tick).
 */
import type { Logger } from 'pino';
import { pruneDelivered } from '../store/retention.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';

export class Schedules implements HubModule {
  readonly name = 'schedules';
  private timer?: NodeJS.Timeout;
  private pruneTimer?: NodeJS.Timeout;
  private readonly core: HubContext['core'];
  private readonly log: Logger;
  private lastError?: string;
  private ticks = 0;

  constructor(
    ctx: HubContext,
    private readonly everyMs = 15_000,
  ) {
    this.core = ctx.core;
    this.log = ctx.log.child({ mod: 'schedules' });
  }

  start(): void {
    this.timer = setInterval(() => void this.rollover(), this.everyMs);
    this.pruneTimer = setInterval(() => this.prune(), 3600_000);
    this.pruneTimer.unref();
  }

  /** Deletes delivered events older than forward.keepDays (never undelivered ones). */
  private prune(): void {
    try {
      const r = pruneDelivered(this.core.store, this.core.config.forward.keepDays, this.core.clock());
      if (r.deleted) this.log.info({ deleted: r.deleted, upTo: r.upTo, readers: r.readers, keepDays: this.core.config.forward.keepDays }, 'delivered events past their keeping time deleted');
    } catch (e) {
      this.log.warn({ err: e }, 'could not prune the event log; will retry in an hour');
    }
  }

  private async rollover(): Promise<void> {
    this.ticks++;
    try {
      const r = await this.core.tick();
      if (r.ok) this.lastError = undefined;
      else {
        this.lastError = r.error.message;
        this.log.error({ code: r.error.code }, 'day rollover could not be saved; will retry');
      }
    } catch (e) {
      this.lastError = (e as Error).message;
      this.log.error({ err: e }, 'day rollover check failed; will retry');
    }
  }

  health(): ModuleHealth {
    return { ok: !this.lastError, detail: { ticks: this.ticks, ...(this.lastError ? { lastError: this.lastError } : {}) } };
  }

  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.pruneTimer);
  }
}
