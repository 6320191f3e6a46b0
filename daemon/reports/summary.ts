/**
 * Days of figures → one report: sums of counts, merged sorted samples
 * (exact percentiles over any number of days), service level from the
 * counts each day measured against its target, utilisation, hours,
 * bottlenecks. Pure; the renderers (render.ts) only format what is here.
 */
import type { CenterConfig } from '../../config/schema.js';
import type { DayFigures, Episode, HourService } from './kpi.js';

export interface Stats {
  n: number;
  /** Seconds (mean rounded to a whole second only when shown). */
  avg: number | null;
  median: number | null;
  p90: number | null;
  max: number | null;
}

export interface Names {
  ar: string;
  en?: string | undefined;
}

export interface ServiceRow {
  id: string;
  name: Names;
  /** Target wait in minutes (the latest day's, when they differ). */
  target: number;
  issued: number;
  transfersIn: number;
  called: number;
  withinTarget: number;
  /** withinTarget ÷ called, 0–1; null when nobody was called. */
  serviceLevel: number | null;
  served: number;
  /** No-shows never returned to the queue. */
  noShows: number;
  noShowsReturned: number;
  cancelledStaff: number;
  cancelledDayEnd: number;
  closedAtDayEnd: number;
  transfersOut: number;
  carriedOut: number;
  wait: Stats;
  service: Stats;
  maxQueue: number;
  maxQueueAt: number | null;
}

export interface WindowRow {
  number: number;
  name?: Names | undefined;
  called: number;
  served: number;
  noShows: number;
  transfersOut: number;
  openMs: number;
  busyMs: number;
  idleMs: number;
  pausedMs: number;
  pauses: Record<string, number>;
  /** busy ÷ open, 0–1; null when never open. */
  utilisation: number | null;
  service: Stats;
  /** Closed or paused in opening hours while someone waited for its services. */
  unavailableMs: number;
}

export interface HourRow {
  key: string;
  /** Local hour 0–23. */
  hour: number;
  /** UTC offset in minutes, shown when an hour repeats (the night clocks go back). */
  offset: number | null;
  issued: number;
  called: number;
  served: number;
  noShows: number;
  growth: number;
  maxQueue: number;
  waitCount: number;
  /** Mean wait (s) of the segments that began in this hour. */
  avgWait: number | null;
  services: Record<string, HourService>;
}

export interface Bottleneck {
  service: string;
  hour: string;
  issued: number;
  called: number;
  growth: number;
  maxQueue: number;
}

export interface Report {
  kind: 'day' | 'week' | 'period';
  /** "2026-11-24" or "2026-W48". */
  period: string;
  first: string;
  last: string;
  timezone: string;
  center: Names;
  /** Days with figures, and days asked for without any (nothing stored). */
  days: string[];
  missing: string[];
  /** Days whose figures run only to a moment (the day was still open). */
  running: string[];
  services: ServiceRow[];
  total: ServiceRow;
  windows: WindowRow[];
  hours: HourRow[];
  bottlenecks: Bottleneck[];
  unavailable: Episode[];
  cancelledBySource: Record<string, number>;
  cancelledByReason: Record<string, number>;
  transfers: { from: string; to: string; n: number }[];
}

/** Nearest rank: the value at rank ⌈p·n⌉ of the ascending list (1-based). The median is p = 0.5: for an even count, the lower middle value. */
export function nearestRank(sorted: ArrayLike<number>, p: number): number | null {
  const n = sorted.length;
  if (!n) return null;
  return sorted[Math.min(n, Math.max(1, Math.ceil(p * n))) - 1]!;
}

export function stats(sorted: ArrayLike<number>): Stats {
  const n = sorted.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return { n, avg: n ? sum / n : null, median: nearestRank(sorted, 0.5), p90: nearestRank(sorted, 0.9), max: n ? sorted[n - 1]! : null };
}

/** Ascending lists into one ascending list. */
export function mergeSorted(lists: ArrayLike<number>[]): ArrayLike<number> {
  const nonEmpty = lists.filter((l) => l.length);
  if (nonEmpty.length <= 1) return nonEmpty[0] ?? [];
  let total = 0;
  for (const l of nonEmpty) total += l.length;
  const out = new Float64Array(total);
  let k = 0;
  for (const l of nonEmpty) for (let i = 0; i < l.length; i++) out[k++] = l[i]!;
  return out.sort();
}

const add = (into: Record<string, number>, from: Record<string, number>) => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
};

export interface SummaryInput {
  kind: Report['kind'];
  period: string;
  /** Every day asked for, in order; those without figures are listed as missing. */
  days: string[];
  figures: DayFigures[];
  config: CenterConfig;
}

export function summarize(o: SummaryInput): Report {
  const { config } = o;
  const byDay = new Map(o.figures.map((f) => [f.day, f]));
  const figs = o.days.map((d) => byDay.get(d)).filter((f): f is DayFigures => !!f);
  const serviceIds = [...new Set([...config.services.map((s) => s.id), ...figs.flatMap((f) => Object.keys(f.services))])];
  const serviceNames = new Map(config.services.map((s) => [s.id, s.name]));

  const row = (id: string, name: Names, parts: DayFigures['services'][string][], target: number): ServiceRow => {
    const sum = (k: keyof DayFigures['services'][string]) => parts.reduce((a, p) => a + (p[k] as number), 0);
    const called = sum('called');
    const withinTarget = sum('withinTarget');
    let maxQueue = 0;
    let maxQueueAt: number | null = null;
    for (const p of parts)
      if (p.maxQueue > maxQueue) {
        maxQueue = p.maxQueue;
        maxQueueAt = p.maxQueueAt;
      }
    return {
      id,
      name,
      target,
      issued: sum('issued'),
      transfersIn: sum('transfersIn'),
      called,
      withinTarget,
      serviceLevel: called ? withinTarget / called : null,
      served: sum('served'),
      noShows: sum('noShowEvents') - sum('noShowsReturned'),
      noShowsReturned: sum('noShowsReturned'),
      cancelledStaff: sum('cancelledStaff'),
      cancelledDayEnd: sum('cancelledDayEnd'),
      closedAtDayEnd: sum('closedAtDayEnd'),
      transfersOut: sum('transfersOut'),
      carriedOut: sum('carriedOut'),
      wait: stats(mergeSorted(parts.map((p) => p.waits))),
      service: stats(mergeSorted(parts.map((p) => p.serviceTimes))),
      maxQueue,
      maxQueueAt,
    };
  };

  const services = serviceIds.map((id) => {
    const parts = figs.map((f) => f.services[id]).filter((p): p is NonNullable<typeof p> => !!p);
    const target = config.services.find((s) => s.id === id)?.targetWaitMinutes ?? parts.at(-1)?.targetWaitMinutes ?? 15;
    return row(id, serviceNames.get(id) ?? { ar: id, en: id }, parts, target);
  });
  const allParts = figs.flatMap((f) => Object.values(f.services));
  const total = row('*', { ar: 'كل الخدمات', en: 'All services' }, allParts, 0);
  // A queue of all services at once is not the largest of one service: take the hours' figure.
  total.maxQueue = 0;
  total.maxQueueAt = null;

  const unavailableAll = figs.flatMap((f) => f.unavailable);
  const windowNumbers = [...new Set([...config.windows.map((w) => w.number), ...figs.flatMap((f) => Object.keys(f.windows).map(Number))])].sort((a, b) => a - b);
  const windows: WindowRow[] = windowNumbers.map((n) => {
    const parts = figs.map((f) => f.windows[n]).filter((p): p is NonNullable<typeof p> => !!p);
    const sum = (k: 'called' | 'served' | 'noShows' | 'transfersOut' | 'openMs' | 'busyMs') => parts.reduce((a, p) => a + p[k], 0);
    const pauses: Record<string, number> = {};
    for (const p of parts) add(pauses, p.pausedMs);
    const openMs = sum('openMs');
    const busyMs = sum('busyMs');
    return {
      number: n,
      name: config.windows.find((w) => w.number === n)?.name,
      called: sum('called'),
      served: sum('served'),
      noShows: sum('noShows'),
      transfersOut: sum('transfersOut'),
      openMs,
      busyMs,
      idleMs: Math.max(0, openMs - busyMs),
      pausedMs: Object.values(pauses).reduce((a, b) => a + b, 0),
      pauses,
      utilisation: openMs ? busyMs / openMs : null,
      service: stats(mergeSorted(parts.map((p) => p.serviceTimes))),
      unavailableMs: unavailableAll.filter((e) => e.window === n).reduce((a, e) => a + (e.to - e.from), 0),
    };
  });

  // Hours: one day keeps its clock hours (a repeated hour twice, with its offset); more days add up by local hour.
  const single = figs.length === 1;
  const hourMap = new Map<string, HourRow>();
  for (const f of figs) {
    const repeated = new Set(f.hours.map((h) => h.hour).filter((h, i, a) => a.indexOf(h) !== i));
    for (const h of f.hours) {
      const split = single && repeated.has(h.hour);
      const key = split ? `${h.hour}@${h.offset}` : String(h.hour);
      let r = hourMap.get(key);
      if (!r) {
        r = { key, hour: h.hour, offset: split ? h.offset : null, issued: 0, called: 0, served: 0, noShows: 0, growth: 0, maxQueue: 0, waitCount: 0, avgWait: null, services: {} };
        hourMap.set(key, r);
        (r as HourRow & { _start: number; _sum: number })._start = h.start;
        (r as HourRow & { _sum: number })._sum = 0;
      }
      r.issued += h.issued;
      r.called += h.called;
      r.served += h.served;
      r.noShows += h.noShows;
      r.growth += h.growth;
      r.maxQueue = Math.max(r.maxQueue, h.maxQueue);
      r.waitCount += h.waitCount;
      (r as HourRow & { _sum: number })._sum += h.waitSum;
      for (const [s, hs] of Object.entries(h.services)) {
        const t = (r.services[s] ??= { issued: 0, called: 0, served: 0, growth: 0, maxQueue: 0, waitSum: 0, waitCount: 0 });
        t.issued += hs.issued;
        t.called += hs.called;
        t.served += hs.served;
        t.growth += hs.growth;
        t.maxQueue = Math.max(t.maxQueue, hs.maxQueue);
        t.waitSum += hs.waitSum;
        t.waitCount += hs.waitCount;
      }
    }
  }
  const hours = [...hourMap.values()]
    .sort((a, b) => (single ? (a as HourRow & { _start: number })._start - (b as HourRow & { _start: number })._start : a.hour - b.hour))
    .map((r) => {
      const { _start, _sum, ...clean } = r as HourRow & { _start: number; _sum: number };
      void _start;
      return { ...clean, avgWait: clean.waitCount ? _sum / clean.waitCount : null };
    });
  total.maxQueue = hours.reduce((a, h) => Math.max(a, h.maxQueue), 0);

  const bottlenecks: Bottleneck[] = [];
  for (const h of hours)
    for (const [s, hs] of Object.entries(h.services))
      if (hs.growth > 0) bottlenecks.push({ service: s, hour: hourLabel(h), issued: hs.issued, called: hs.called, growth: hs.growth, maxQueue: hs.maxQueue });
  // Stable sort: equal growth and queue keep the hours' order.
  bottlenecks.sort((a, b) => b.growth - a.growth || b.maxQueue - a.maxQueue);

  const cancelledBySource: Record<string, number> = {};
  const cancelledByReason: Record<string, number> = {};
  const transfers: Record<string, number> = {};
  for (const f of figs) {
    add(cancelledBySource, f.cancelledBySource);
    add(cancelledByReason, f.cancelledByReason);
    add(transfers, f.transfers);
  }
  const unavailable = [...unavailableAll]
    .sort((a, b) => b.to - b.from - (a.to - a.from) || a.from - b.from)
    .slice(0, 20)
    .sort((a, b) => a.from - b.from || a.window - b.window);

  return {
    kind: o.kind,
    period: o.period,
    first: o.days[0] ?? '',
    last: o.days[o.days.length - 1] ?? '',
    timezone: config.center.timezone,
    center: config.center.name,
    days: figs.map((f) => f.day),
    missing: o.days.filter((d) => !byDay.has(d)),
    running: figs.filter((f) => !f.ended).map((f) => f.day),
    services,
    total,
    windows,
    hours,
    bottlenecks: bottlenecks.slice(0, 5),
    unavailable,
    cancelledBySource,
    cancelledByReason,
    transfers: Object.entries(transfers)
      .map(([k, n]) => {
        const [from, to] = k.split('>') as [string, string];
        return { from, to, n };
      })
      .sort((a, b) => b.n - a.n || a.from.localeCompare(b.from)),
  };
}

/** "09:00", or "23:00 (UTC+03)" for an hour that happens twice. */
export function hourLabel(h: Pick<HourRow, 'hour' | 'offset'>): string {
  const hh = `${String(h.hour).padStart(2, '0')}:00`;
  if (h.offset === null) return hh;
  const sign = h.offset < 0 ? '-' : '+';
  const a = Math.abs(h.offset);
  const off = `${String(Math.floor(a / 60)).padStart(2, '0')}${a % 60 ? `:${String(a % 60).padStart(2, '0')}` : ''}`;
  return `${hh} (UTC${sign}${off})`;
}
