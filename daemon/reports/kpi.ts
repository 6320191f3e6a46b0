/**
 * The queue figures of the trade, computed from the event log: a pure fold of
 * one business day's stored events into `DayFigures` (counts, sums and the
 * sorted samples, so days merge exactly), and `summarize` that merges any
 * number of days into a `Report` (averages, nearest-rank percentiles, service
 * level, utilisation, bottlenecks). No I/O, no clock: the end of an
 * unfinished day is an input. Definitions and formulas: docs/REPORTS.md.
 */
import type { CenterConfig } from '../../config/schema.js';
import { localTime } from '../engine/clock.js';
import type { QueueEvent } from '../../contract/queue.js';

/** Version of the DayFigures shape kept in rollups; another version is recomputed or refused. */
export const FIGURES_VERSION = 1;

const MIN = 60_000;
const HOUR = 3_600_000;

/** Whole seconds: every wait and service time is kept, merged and ranked in this unit. */
const sec = (ms: number): number => Math.max(0, Math.round(ms / 1000));

export interface ServiceDay {
  /** The target the day was measured against (services[].targetWaitMinutes that day). */
  targetWaitMinutes: number;
  issued: number;
  transfersIn: number;
  transfersOut: number;
  /** Waiting segments that ended with a call (their waits are in `waits`). */
  called: number;
  /** Of them, called within the target (wait ≤ target). */
  withinTarget: number;
  served: number;
  /** Every no-show at a window, returned or not. */
  noShowEvents: number;
  /** No-shows sent back to the queue (a recalled no-show). */
  noShowsReturned: number;
  cancelledStaff: number;
  cancelledDayEnd: number;
  /** Visits still open at the rollover, closed by it (no service time kept). */
  closedAtDayEnd: number;
  /** Still waiting at the rollover and carried into the next day (`leftovers: carry`). */
  carriedOut: number;
  maxQueue: number;
  maxQueueAt: number | null;
  /** Waits in seconds, sorted ascending. */
  waits: number[];
  /** Service times in seconds, sorted ascending. */
  serviceTimes: number[];
}

export interface WindowDay {
  called: number;
  served: number;
  noShows: number;
  transfersOut: number;
  openMs: number;
  busyMs: number;
  pausedMs: Record<string, number>;
  serviceTimes: number[];
}

export interface HourService {
  issued: number;
  called: number;
  served: number;
  /** Joined − left the queue during the hour. */
  growth: number;
  maxQueue: number;
  waitSum: number;
  waitCount: number;
}

export interface HourDay {
  /** The local hour's first instant (ms). */
  start: number;
  /** Local hour 0–23. */
  hour: number;
  /** UTC offset of that hour, minutes (Cairo: 120 or 180). */
  offset: number;
  issued: number;
  called: number;
  served: number;
  noShows: number;
  growth: number;
  /** Citizens waiting (all services) when the hour began. */
  queueAtStart: number;
  /** Most citizens waiting at once (all services) during the hour, its start included. */
  maxQueue: number;
  waitSum: number;
  waitCount: number;
  services: Record<string, HourService>;
}

export interface Episode {
  day: string;
  window: number;
  /** `closed`, or the pause reason. */
  state: string;
  from: number;
  to: number;
  maxWaiting: number;
}

export interface DayFigures {
  v: number;
  day: string;
  timezone: string;
  /** The day's log starts with its own `day.rolled` (nothing of it pruned). */
  complete: boolean;
  /** Whether the day is over (its rollover is in the log), or figures run to `until`. */
  ended: boolean;
  from: number;
  until: number;
  services: Record<string, ServiceDay>;
  windows: Record<string, WindowDay>;
  hours: HourDay[];
  cancelledBySource: Record<string, number>;
  cancelledByReason: Record<string, number>;
  /** "from>to" → count. */
  transfers: Record<string, number>;
  /** Windows closed or paused, during opening hours, while someone waited for one of their services. */
  unavailable: Episode[];
}

/** The reason the engine gives tickets cancelled by the rollover. */
export const DAY_END_REASON = 'day ended';

interface Track {
  status: 'waiting' | 'called' | 'serving' | 'parked' | 'noShow' | 'done' | 'cancelled' | 'gone' | 'unknown';
  service: string;
  segStart: number;
  segService: string;
  /** The instant whose hour the segment's wait is counted in: its start, or for a ticket of an earlier day its first call. */
  anchor: number;
  lastCall?: number;
  /** Issued and called by one command (a walk-up inquiry call): no wait to measure. */
  walkUp?: boolean;
  /** Queued under an inquiry number, not a printed ticket (n = 0). */
  inquiryOnly?: boolean;
  visit?: { window: number; start: number };
  servingAt?: number;
}

const newService = (target: number): ServiceDay => ({
  targetWaitMinutes: target,
  issued: 0,
  transfersIn: 0,
  transfersOut: 0,
  called: 0,
  withinTarget: 0,
  served: 0,
  noShowEvents: 0,
  noShowsReturned: 0,
  cancelledStaff: 0,
  cancelledDayEnd: 0,
  closedAtDayEnd: 0,
  carriedOut: 0,
  maxQueue: 0,
  maxQueueAt: null,
  waits: [],
  serviceTimes: [],
});

const newWindow = (): WindowDay => ({ called: 0, served: 0, noShows: 0, transfersOut: 0, openMs: 0, busyMs: 0, pausedMs: {}, serviceTimes: [] });
const newHourService = (): HourService => ({ issued: 0, called: 0, served: 0, growth: 0, maxQueue: 0, waitSum: 0, waitCount: 0 });

/** The local hour an instant falls in: its first instant, local hour number and UTC offset. */
export function hourOf(at: number, tz: string): { start: number; hour: number; offset: number } {
  const lt = localTime(at, tz);
  const minuteStart = Math.floor(at / MIN) * MIN;
  const [y, m, d] = lt.date.split('-').map(Number) as [number, number, number];
  const offset = Math.round((Date.UTC(y, m - 1, d, lt.hour, lt.minute) - minuteStart) / MIN);
  return { start: minuteStart - lt.minute * MIN, hour: lt.hour, offset };
}

/**
 * The instant a local wall-clock time of a date happens in a zone. A time
 * that happens twice (the hour repeated when clocks go back) gives the first;
 * one that never happens (skipped forward) gives the instant an hour later.
 */
export function zonedInstant(date: string, hhmm: string, tz: string): number {
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
  const [h, mi] = hhmm.split(':').map(Number) as [number, number];
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  const offsetAt = (at: number) => hourOf(at, tz).offset * MIN;
  // Try both offsets seen around the time, earliest instant first.
  const candidates = [...new Set([offsetAt(wall - 14 * HOUR), offsetAt(wall + 14 * HOUR), offsetAt(wall)])].map((o) => wall - o).sort((a, b) => a - b);
  for (const c of candidates) {
    const lt = localTime(c, tz);
    if (lt.date === date && lt.hour === h && lt.minute === mi) return c;
  }
  return candidates[candidates.length - 1]!;
}

export interface DayOptions {
  /** Where an unfinished day's open windows and visits are measured to (default: the last event). */
  until?: number;
  /** false while the day runs (its rollover is not in the log yet). Default true. */
  ended?: boolean;
}

/**
 * One business day's figures from its stored events (in `seq` order), as
 * `store.eventsOfDay(day)` returns them: from its `day.rolled` to the
 * cancellations and closings its rollover made.
 */
export function computeDay(day: string, events: readonly QueueEvent[], config: CenterConfig, opts: DayOptions = {}): DayFigures {
  const tz = config.center.timezone;
  const targets = new Map(config.services.map((s) => [s.id, s.targetWaitMinutes]));
  const services: Record<string, ServiceDay> = {};
  const svc = (id: string) => (services[id] ??= newService(targets.get(id) ?? 15));
  for (const s of config.services) svc(s.id);
  const windows: Record<string, WindowDay> = {};
  const win = (n: number) => (windows[n] ??= newWindow());
  for (const w of config.windows) win(w.number);
  const queue = new Map<string, number>();
  let waitingAll = 0;
  const hours = new Map<number, HourDay>();
  const hourCache = new Map<number, ReturnType<typeof hourOf>>();
  const hourAt = (at: number): HourDay => {
    const minute = Math.floor(at / MIN);
    let h = hourCache.get(minute);
    if (!h) hourCache.set(minute, (h = hourOf(at, tz)));
    let b = hours.get(h.start);
    // Created by the hour's first event that counts: the queue then is the queue at the hour's start.
    if (!b) hours.set(h.start, (b = { ...h, queueAtStart: waitingAll, issued: 0, called: 0, served: 0, noShows: 0, growth: 0, maxQueue: waitingAll, waitSum: 0, waitCount: 0, services: {} }));
    return b;
  };
  const hourSvc = (b: HourDay, s: string) => (b.services[s] ??= { ...newHourService(), maxQueue: queue.get(s) ?? 0 });

  const cancelledBySource: Record<string, number> = {};
  const cancelledByReason: Record<string, number> = {};
  const transfers: Record<string, number> = {};
  const tickets = new Map<string, Track>();
  const winState = new Map<number, { status: string; reason?: string; since: number }>();

  const first = events[0];
  const from = first?.at ?? 0;
  const last = events.length ? events[events.length - 1]!.at : 0;
  const until = Math.max(opts.until ?? last, last);
  const complete = first?.type === 'day.rolled' && first.to === day;
  const ended = opts.ended ?? true;

  // Opening hours of the day, as instants (closing before opening: it closes after midnight).
  const opensAt = zonedInstant(day, config.center.day.opens, tz);
  let closesAt = zonedInstant(day, config.center.day.closes, tz);
  if (closesAt <= opensAt) closesAt = zonedInstant(addDay(day), config.center.day.closes, tz);

  // Windows closed or paused while people waited: an episode runs while both hold, within opening hours.
  const unavailable: Episode[] = [];
  const open = new Map<number, Episode>();
  // The services each window calls: the config's, until the day reassigns them (`window.assigned`, from the hub's next version on).
  const winServices = new Map(config.windows.map((w) => [w.number, w.services]));
  const waitingFor = (n: number) => (winServices.get(n) ?? []).reduce((a, s) => a + (queue.get(s) ?? 0), 0);
  const sweep = (at: number) => {
    for (const w of config.windows) {
      const st = winState.get(w.number);
      const state = !st || st.status === 'closed' ? 'closed' : st.status === 'paused' ? (st.reason ?? 'paused') : undefined;
      const waiting = waitingFor(w.number);
      const inHours = at >= opensAt && at < closesAt;
      const cur = open.get(w.number);
      if (cur && (state !== cur.state || waiting === 0 || !inHours)) {
        cur.to = Math.min(at, closesAt);
        if (cur.to > cur.from) unavailable.push(cur);
        open.delete(w.number);
      }
      const still = open.get(w.number);
      if (still) still.maxWaiting = Math.max(still.maxWaiting, waiting);
      else if (state !== undefined && waiting > 0 && inHours) open.set(w.number, { day, window: w.number, state, from: at, to: at, maxWaiting: waiting });
    }
  };

  const moveQueue = (s: string, d: number, at: number) => {
    const b = hourAt(at);
    const hs = hourSvc(b, s);
    const n = (queue.get(s) ?? 0) + d;
    queue.set(s, n);
    waitingAll += d;
    hs.growth += d;
    b.growth += d;
    if (n > hs.maxQueue) hs.maxQueue = n;
    if (waitingAll > b.maxQueue) b.maxQueue = waitingAll;
    const sd = svc(s);
    if (n > sd.maxQueue) {
      sd.maxQueue = n;
      sd.maxQueueAt = at;
    }
  };

  /** The end of a waiting segment: its wait (to its last call) counts, in its service and the hour it began. */
  const endSegment = (t: Track) => {
    if (t.lastCall === undefined || t.walkUp) return;
    const wait = sec(t.lastCall - t.segStart);
    const sd = svc(t.segService);
    sd.called++;
    sd.waits.push(wait);
    if (wait <= sd.targetWaitMinutes * 60) sd.withinTarget++;
    const b = hourAt(t.anchor);
    b.waitSum += wait;
    b.waitCount++;
    const hs = hourSvc(b, t.segService);
    hs.waitSum += wait;
    hs.waitCount++;
    t.lastCall = undefined;
  };

  const endVisit = (t: Track, at: number) => {
    if (!t.visit) return;
    win(t.visit.window).busyMs += Math.max(0, at - t.visit.start);
    t.visit = undefined;
  };

  const setWindow = (n: number, status: string, at: number, reason?: string) => {
    const w = win(n);
    const st = winState.get(n);
    if (st) {
      const ms = Math.max(0, at - st.since);
      if (st.status === 'open') w.openMs += ms;
      else if (st.status === 'paused') w.pausedMs[st.reason ?? 'paused'] = (w.pausedMs[st.reason ?? 'paused'] ?? 0) + ms;
    }
    winState.set(n, { status, ...(reason !== undefined ? { reason } : {}), since: at });
  };

  // Opening and closing are instants nothing may happen at: the sweep looks at them too.
  const bounds = [opensAt, closesAt];
  for (const e of events) {
    while (bounds.length && bounds[0]! <= e.at) sweep(bounds.shift()!);
    if (e.type === 'day.rolled') {
      sweep(e.at);
      continue;
    }
    const loose = e as unknown as { type: string; window?: number; services?: unknown };
    if (loose.type === 'window.assigned' && typeof loose.window === 'number' && Array.isArray(loose.services)) {
      winServices.set(loose.window, loose.services.filter((x): x is string => typeof x === 'string'));
      sweep(e.at);
      continue;
    }
    if (e.type === 'window.opened' || e.type === 'window.closed' || e.type === 'window.paused') {
      setWindow(e.window, e.type === 'window.opened' ? 'open' : e.type === 'window.closed' ? 'closed' : 'paused', e.at, e.type === 'window.paused' ? e.reason : undefined);
      sweep(e.at);
      continue;
    }
    if (!('ticket' in e)) continue;
    let t = tickets.get(e.ticket);
    if (!t && e.type !== 'ticket.issued') {
      // A ticket of an earlier day (carried over): its queue began before this log.
      const start = e.type === 'ticket.called' ? e.at - e.waitMs : e.at;
      t = { status: 'unknown', service: e.service, segStart: start, segService: e.service, anchor: e.at };
      tickets.set(e.ticket, t);
    }
    switch (e.type) {
      case 'ticket.issued': {
        t = { status: 'waiting', service: e.service, segStart: e.at, segService: e.service, anchor: e.at, inquiryOnly: e.n === 0 };
        tickets.set(e.ticket, t);
        svc(e.service).issued++;
        const b = hourAt(e.at);
        b.issued++;
        hourSvc(b, e.service).issued++;
        moveQueue(e.service, +1, e.at);
        break;
      }
      case 'ticket.called': {
        if (!t) break;
        if (t.status === 'waiting') moveQueue(t.service, -1, e.at);
        if (t.status === 'waiting' && e.how === 'inquiry' && t.inquiryOnly && t.segStart === e.at) t.walkUp = true;
        endVisit(t, e.at);
        t.status = 'called';
        t.visit = { window: e.window, start: e.at };
        t.servingAt = undefined;
        if (winState.get(e.window)?.status !== 'open') setWindow(e.window, 'open', e.at);
        if (e.how !== 'resume') {
          t.lastCall = e.at;
          win(e.window).called++;
          const b = hourAt(e.at);
          b.called++;
          hourSvc(b, t.service).called++;
        }
        break;
      }
      case 'ticket.serving':
        if (!t) break;
        t.status = 'serving';
        t.servingAt = e.at;
        break;
      case 'ticket.done': {
        if (!t) break;
        const startedAt = t.servingAt ?? t.visit?.start;
        endVisit(t, e.at);
        t.status = 'done';
        if (e.reason === 'rollover') {
          svc(e.service).closedAtDayEnd++;
          break;
        }
        const s = sec(e.at - (startedAt ?? e.at - e.serviceMs));
        const sd = svc(e.service);
        sd.served++;
        sd.serviceTimes.push(s);
        const w = win(e.window);
        w.served++;
        w.serviceTimes.push(s);
        const b = hourAt(e.at);
        b.served++;
        hourSvc(b, e.service).served++;
        break;
      }
      case 'ticket.noShow': {
        if (!t) break;
        endVisit(t, e.at);
        t.status = 'noShow';
        svc(e.service).noShowEvents++;
        win(e.window).noShows++;
        hourAt(e.at).noShows++;
        break;
      }
      case 'ticket.returned':
        if (!t) break;
        // Same segment: its wait will run to the next (last) call.
        t.status = 'waiting';
        svc(e.service).noShowsReturned++;
        moveQueue(e.service, +1, e.at);
        break;
      case 'ticket.transferred': {
        if (!t) break;
        if (t.status === 'waiting') moveQueue(e.from, -1, e.at);
        endVisit(t, e.at);
        endSegment(t);
        svc(e.from).transfersOut++;
        svc(e.to).transfersIn++;
        if (e.window !== undefined) win(e.window).transfersOut++;
        transfers[`${e.from}>${e.to}`] = (transfers[`${e.from}>${e.to}`] ?? 0) + 1;
        t.status = 'waiting';
        t.service = e.to;
        t.segService = e.to;
        t.segStart = e.at;
        t.anchor = e.at;
        t.walkUp = false;
        moveQueue(e.to, +1, e.at);
        break;
      }
      case 'ticket.parked':
        if (!t) break;
        endVisit(t, e.at);
        t.status = 'parked';
        break;
      case 'ticket.cancelled': {
        if (!t) break;
        if (t.status === 'waiting') moveQueue(t.service, -1, e.at);
        t.status = 'cancelled';
        const dayEnd = e.reason === DAY_END_REASON && !e.source;
        if (dayEnd) svc(e.service).cancelledDayEnd++;
        else svc(e.service).cancelledStaff++;
        const who = e.source ?? 'hub';
        cancelledBySource[who] = (cancelledBySource[who] ?? 0) + 1;
        cancelledByReason[e.reason] = (cancelledByReason[e.reason] ?? 0) + 1;
        break;
      }
      case 'ticket.carried':
        if (!t) break;
        if (t.status === 'waiting') moveQueue(t.service, -1, e.at);
        t.status = 'gone';
        svc(e.service).carriedOut++;
        break;
      default:
        break;
    }
    sweep(e.at);
  }
  // The end of the log (or of an unfinished day): open windows and visits are measured to `until`.
  for (const t of tickets.values()) {
    endVisit(t, until);
    endSegment(t);
  }
  for (const n of winState.keys()) setWindow(n, 'closed', until);
  while (bounds.length && bounds[0]! <= until) sweep(bounds.shift()!);
  for (const ep of open.values()) {
    ep.to = Math.min(until, closesAt);
    if (ep.to > ep.from) unavailable.push(ep);
  }

  for (const s of Object.values(services)) {
    s.waits.sort((a, b) => a - b);
    s.serviceTimes.sort((a, b) => a - b);
  }
  for (const w of Object.values(windows)) w.serviceTimes.sort((a, b) => a - b);
  unavailable.sort((a, b) => a.from - b.from || a.window - b.window);
  return {
    v: FIGURES_VERSION,
    day,
    timezone: tz,
    complete,
    ended,
    from,
    until,
    services,
    windows,
    hours: fillHours([...hours.values()].sort((a, b) => a.start - b.start), tz),
    cancelledBySource,
    cancelledByReason,
    transfers,
    unavailable,
  };
}

function addDay(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

/** Hours between the first and the last hour with queue activity, none missing (a gap shows as a row of zeros). */
function fillHours(list: HourDay[], tz: string): HourDay[] {
  const active = list.filter((h) => h.issued || h.called || h.served || h.noShows);
  if (!active.length) return list;
  const lo = active[0]!.start;
  const hi = active[active.length - 1]!.start;
  const byStart = new Map(list.map((h) => [h.start, h]));
  const out: HourDay[] = list.filter((h) => h.start < lo);
  let level = 0;
  // Zone offsets change by whole hours, so local hours start an hour apart, across a DST change too.
  for (let s = lo; s <= hi; s += HOUR) {
    const have = byStart.get(s);
    if (have) {
      out.push(have);
      level = have.queueAtStart + have.growth;
      continue;
    }
    const h = hourOf(s, tz);
    // Nothing happened in the hour: the queue stayed as the hour before left it.
    out.push({ ...h, queueAtStart: level, issued: 0, called: 0, served: 0, noShows: 0, growth: 0, maxQueue: level, waitSum: 0, waitCount: 0, services: {} });
  }
  return [...out, ...list.filter((h) => h.start > hi)];
}
