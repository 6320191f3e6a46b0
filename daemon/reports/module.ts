/**
 * The reports module: keeps each finished business day's figures as a
 * rollup (written when the rollover is committed, and at start for days
 * that have none), and with `reports.daily` / `reports.weekly` writes the
 * day's and the ISO week's report (CSV and HTML in each center language)
 * into `reports.folder` at `reports.at`, local time, by node-cron in the
 * center's time zone. The weekly one (the manager's weekly copy) is written
 * on Sundays, the ISO week's last day.
 *
 * Owns: the rollups table's rows, the report files. May touch: the store
 * (read, rollups), the bus (listen).
 */
import type { ScheduledTask } from 'node-cron';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Logger } from 'pino';
import type { CenterConfig } from '../../config/schema.js';
import { businessDay, localTime } from '../engine/clock.js';
import type { ReportsPort, TodayFigures, TodayService } from '../../contract/ports.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';
import { toCsv, toHtml, type Lang } from './render.js';
import { isoWeekOf, missingRollups, reportFor, writeRollup } from './rollups.js';
import { hourLabel, type ServiceRow } from './summary.js';

/** Today's figures are computed again at most this often (and when the log moved on). */
const TODAY_EVERY_MS = 2_000;

const todayService = (r: ServiceRow): TodayService => ({
  id: r.id,
  target: r.target,
  issued: r.issued,
  called: r.called,
  withinTarget: r.withinTarget,
  serviceLevel: r.serviceLevel,
  served: r.served,
  avgWaitS: r.wait.avg === null ? null : Math.round(r.wait.avg),
  maxWaitS: r.wait.max,
});

/** One hour after closing (23:59 at the latest), when reports.at is not given. */
export function reportTime(config: CenterConfig): string {
  if (config.reports.at) return config.reports.at;
  const [h, m] = config.center.day.closes.split(':').map(Number) as [number, number];
  const t = Math.min(h * 60 + m + 60, 23 * 60 + 59);
  return `${String(Math.floor(t / 60)).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`;
}

export class ReportsModule implements HubModule, ReportsPort {
  readonly name = 'reports';
  private readonly core: HubContext['core'];
  private readonly config: CenterConfig;
  private readonly log: Logger;
  private readonly folder: string;
  private readonly ctx: HubContext;
  private off?: () => void;
  private task?: ScheduledTask;
  private rollups = 0;
  private lastRollup?: string;
  private lastReport?: string;
  private lastError?: string;
  private todayCache?: { seq: number; at: number; figures: TodayFigures };

  constructor(ctx: HubContext) {
    this.ctx = ctx;
    this.core = ctx.core;
    this.config = ctx.config;
    this.log = ctx.log.child({ mod: 'reports' });
    const f = ctx.config.reports.folder;
    this.folder = isAbsolute(f) ? f : join(ctx.dataDir, f);
  }

  async start(): Promise<void> {
    this.off = this.ctx.bus.on('committed', 'reports', ({ events }) => {
      for (const e of events) if (e.type === 'day.rolled' && e.from) this.rollup(e.from);
    });
    const today = this.dayOf();
    for (const day of missingRollups(this.core.store, today)) this.rollup(day);
    const r = this.config.reports;
    if (r.daily || r.weekly) {
      const [h, m] = reportTime(this.config).split(':').map(Number) as [number, number];
      // Loaded only when a report is scheduled.
      const cron = (await import('node-cron')).default;
      this.task = cron.schedule(`${m} ${h} * * *`, () => this.fireOnce(this.core.clock()), { timezone: this.config.center.timezone, name: 'qhub-reports', noOverlap: true });
      // node-cron waits on one long timer armed from the wall clock: when the clock is stepped (NTP setting a Pi's
      // clock after boot) it fires hours off or skips the day as "missed". This check on the wall clock catches up,
      // within the hour after the report time, once per local date (measured by `npm run chaos -- --only clock`).
      const at = h * 60 + m;
      this.catchUp = setInterval(() => {
        const now = this.core.clock();
        const t = localTime(now, this.config.center.timezone);
        const minute = t.hour * 60 + t.minute;
        if (minute >= at && minute < at + 60) this.fireOnce(now);
      }, 15_000);
      this.catchUp.unref();
    }
  }

  private dayOf(now = this.core.clock()): string {
    return businessDay(now, this.config.center.timezone, this.config.center.day.rollover);
  }

  /**
   * Today's figures up to now, for the dashboard: the same computation as
   * `qhub report --day <today>` (kpi.ts, summary.ts), kept for a couple of
   * seconds while no event was written.
   */
  today(): TodayFigures {
    const now = this.core.clock();
    const seq = this.core.store.lastSeq;
    const c = this.todayCache;
    if (c && c.seq === seq && now - c.at < TODAY_EVERY_MS) return c.figures;
    const day = businessDay(now, this.ctx.config.center.timezone, this.ctx.config.center.day.rollover);
    const { report } = reportFor(this.core.store, this.ctx.config, { day }, now);
    const figures: TodayFigures = {
      day,
      until: new Date(now).toISOString(),
      services: report.services.map(todayService),
      total: todayService(report.total),
      windows: report.windows.map((w) => ({ number: w.number, called: w.called, served: w.served, avgServiceS: w.service.avg === null ? null : Math.round(w.service.avg) })),
      hours: report.hours.map((h) => ({ hour: h.hour, label: hourLabel(h), issued: h.issued, called: h.called, served: h.served, avgWaitS: h.avgWait === null ? null : Math.round(h.avgWait) })),
    };
    this.todayCache = { seq, at: now, figures };
    return figures;
  }

  /** A day's or an ISO week's report as `qhub report` writes it (CSV or HTML), up to now. */
  render(what: { day: string } | { week: string }, format: 'csv' | 'html', lang: Lang): string {
    const now = this.core.clock();
    const { report } = reportFor(this.core.store, this.ctx.config, what, now);
    return format === 'csv' ? toCsv(report, lang, { generatedAt: now }) : toHtml(report, lang, { generatedAt: now });
  }

  /** Recomputes a day's figures from its events and keeps them (also on demand). */
  rollup(day: string): void {
    try {
      const f = writeRollup(this.core.store, this.config, day);
      if (!f) return;
      this.rollups++;
      this.lastRollup = day;
      this.log.info({ day, services: Object.keys(f.services).length }, 'day figures kept (rollup)');
    } catch (e) {
      this.lastError = (e as Error).message;
      this.log.error({ err: e, day }, 'could not keep the day figures; the day can be recomputed while its events are kept');
    }
  }

  private catchUp?: NodeJS.Timeout;
  /** Local date of the last scheduled run: the cron job and the catch-up check write once per date, whatever the clock does. */
  private firedOn?: string;

  private fireOnce(now: number): string[] {
    const date = localTime(now, this.config.center.timezone).date;
    if (this.firedOn === date) return [];
    this.firedOn = date;
    return this.scheduled(now);
  }

  /** The cron job: the day's report, and on Sundays the ISO week's. Returns the files written. */
  scheduled(now: number): string[] {
    const written: string[] = [];
    const day = this.dayOf(now);
    try {
      if (this.config.reports.daily) written.push(...this.write({ day }, now, day));
      const t = localTime(now, this.config.center.timezone);
      const [y, mo, d] = t.date.split('-').map(Number) as [number, number, number];
      if (this.config.reports.weekly && new Date(Date.UTC(y, mo - 1, d)).getUTCDay() === 0) {
        const week = isoWeekOf(day);
        written.push(...this.write({ week }, now, week));
      }
      this.lastError = undefined;
    } catch (e) {
      this.lastError = (e as Error).message;
      this.log.error({ err: e, folder: this.folder }, 'could not write the scheduled report: check the folder exists, is writable and its disk is not full (reports.folder)');
    }
    return written;
  }

  private write(what: { day: string } | { week: string }, now: number, stem: string): string[] {
    const { report } = reportFor(this.core.store, this.config, what, now);
    mkdirSync(this.folder, { recursive: true });
    const out: string[] = [];
    for (const lang of this.config.center.languages as Lang[]) {
      for (const [ext, text] of [
        ['csv', toCsv(report, lang, { generatedAt: now })],
        ['html', toHtml(report, lang, { generatedAt: now })],
      ] as const) {
        const file = join(this.folder, `${stem}.${lang}.${ext}`);
        try {
          writeFileSync(`${file}.tmp`, text);
          renameSync(`${file}.tmp`, file);
        } catch (e) {
          // A full disk: no half-written .tmp left taking the space.
          rmSync(`${file}.tmp`, { force: true });
          throw e;
        }
        out.push(file);
      }
    }
    this.lastReport = stem;
    this.log.info({ files: out }, `report ${stem} written`);
    return out;
  }

  health(): ModuleHealth {
    return {
      ok: !this.lastError,
      detail: {
        rollups: this.rollups,
        ...(this.lastRollup ? { lastRollup: this.lastRollup } : {}),
        ...(this.lastReport ? { lastReport: this.lastReport } : {}),
        ...(this.task ? { nextReport: this.task.getNextRun()?.toISOString() ?? null } : {}),
        ...(this.lastError ? { lastError: this.lastError } : {}),
      },
    };
  }

  async stop(): Promise<void> {
    this.off?.();
    this.off = undefined;
    clearInterval(this.catchUp);
    await this.task?.destroy();
    this.task = undefined;
  }
}
