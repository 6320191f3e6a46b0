/**
 * Days of figures from the store: recomputed from a day's events while they
 * are all there, else read from the day's rollup (kept after the events are
 * pruned). Rollups are written at each rollover by the reports module and
 * on demand; a rollup is the exact DayFigures a recomputation gives.
 */
import type { CenterConfig } from '../../config/schema.js';
import { addDays, businessDay } from '../engine/clock.js';
import type { Store } from '../store/store.js';
import { computeDay, FIGURES_VERSION, type DayFigures } from './kpi.js';
import { summarize, type Report } from './summary.js';

export const ROLLUP_KIND = 'figures';
const ROLLUP_KEY = 'all';

/** Where a day's figures came from. */
export type Source = 'events' | 'rollup' | 'partial-events';

/** Recomputes a finished day from its events and keeps it as the day's rollup. Returns undefined when the day has no complete log (pruned): an older rollup is then left as it is. */
export function writeRollup(store: Store, config: CenterConfig, day: string): DayFigures | undefined {
  const events = store.eventsOfDay(day);
  if (!events.length || events[0]!.type !== 'day.rolled') return undefined;
  const f = computeDay(day, events, config);
  store.saveRollup(day, ROLLUP_KIND, ROLLUP_KEY, f);
  return f;
}

export function readRollup(store: Store, day: string): DayFigures | undefined {
  const r = store.rollups<DayFigures>(ROLLUP_KIND, day, day)[0];
  return r && r.data.v === FIGURES_VERSION ? r.data : undefined;
}

/** Days with events and no rollup yet, before `today` (a hub that was off at a rollover, or older than reports). */
export function missingRollups(store: Store, today: string): string[] {
  const have = new Set(store.rollups<unknown>(ROLLUP_KIND, '0000-00-00', today).map((r) => r.day));
  return store.daysWithEvents('0000-00-00', addDays(today, -1)).filter((d) => !have.has(d));
}

/**
 * Figures of each day asked for: from the events when the day's log is
 * complete, else from its rollup, else from what events remain (marked).
 * `now` says which day is still running (measured up to `now`).
 */
export function figuresFor(store: Store, config: CenterConfig, days: string[], now: number): { figures: DayFigures[]; sources: Record<string, Source> } {
  const today = businessDay(now, config.center.timezone, config.center.day.rollover);
  const figures: DayFigures[] = [];
  const sources: Record<string, Source> = {};
  for (const day of days) {
    if (day > today) continue;
    const events = store.eventsOfDay(day);
    const running = day === today;
    if (events.length && events[0]!.type === 'day.rolled') {
      figures.push(computeDay(day, events, config, running ? { until: now, ended: false } : {}));
      sources[day] = 'events';
      continue;
    }
    const rollup = readRollup(store, day);
    if (rollup) {
      figures.push(rollup);
      sources[day] = 'rollup';
    } else if (events.length) {
      figures.push(computeDay(day, events, config, running ? { until: now, ended: false } : {}));
      sources[day] = 'partial-events';
    }
  }
  return { figures, sources };
}

/** The seven dates (Monday–Sunday) of an ISO week "2026-W48". */
export function isoWeekDays(week: string): string[] {
  const m = /^(\d{4})-W(\d{2})$/.exec(week);
  if (!m) throw new Error(`"${week}" is not an ISO week: write it as 2026-W48`);
  const year = Number(m[1]);
  const w = Number(m[2]);
  // 4 January is always in week 1.
  const jan4 = Date.UTC(year, 0, 4);
  const dow = (new Date(jan4).getUTCDay() + 6) % 7; // Monday 0
  const monday = jan4 - dow * 86_400_000 + (w - 1) * 7 * 86_400_000;
  const days = Array.from({ length: 7 }, (_, i) => new Date(monday + i * 86_400_000).toISOString().slice(0, 10));
  if (w < 1 || w > 53 || isoWeekOf(days[3]!) !== week) throw new Error(`${week}: ${year} has no week ${w}`);
  return days;
}

/** The ISO week of a date: "2026-W48". */
export function isoWeekOf(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const t = Date.UTC(y, m - 1, d);
  const dow = (new Date(t).getUTCDay() + 6) % 7;
  const thursday = new Date(t + (3 - dow) * 86_400_000);
  const year = thursday.getUTCFullYear();
  const week = 1 + Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / (7 * 86_400_000));
  return `${year}-W${String(week).padStart(2, '0')}`;
}

/** A day's or a week's report from the store. */
export function reportFor(store: Store, config: CenterConfig, what: { day: string } | { week: string }, now: number): { report: Report; sources: Record<string, Source> } {
  const days = 'day' in what ? [what.day] : isoWeekDays(what.week);
  const { figures, sources } = figuresFor(store, config, days, now);
  const report = summarize({ kind: 'day' in what ? 'day' : 'week', period: 'day' in what ? what.day : what.week, days, figures, config });
  return { report, sources };
}
