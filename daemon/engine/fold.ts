/**
 * How each event changes the engine's state, one fold per event type behind
 * a typed table (an event type without a fold is a compile error). Events
 * about a ticket the state does not hold (pruned, or from a config that
 * changed) change nothing; `Engine.apply` keeps the indexes around them.
 */
import type { CenterConfig } from '../../config/schema.js';
import type { EngineState } from './state.js';
import { ACTIVE, type EventType, type QueueEvent, type Ticket, type WindowState } from '../../contract/queue.js';

/**
 * A retried command (same source and id) returns the first answer for the
 * rest of the business day; ids seen less than this long before the rollover
 * are kept into the new day (a dispenser retrying across 03:00).
 */
export const DEDUPE_MS = 15 * 60_000;
/** Service times above this are not believed (a forgotten "done", a clock jump). */
export const MAX_SAMPLE_MS = 3 * 3600_000;

export type EventOf<K extends EventType> = Extract<QueueEvent, { type: K }>;
export type Fold<K extends EventType> = (st: EngineState, e: EventOf<K>, config: CenterConfig) => void;
type TicketEventType = Extract<QueueEvent, { ticket: string }>['type'];

/** A fold of a ticket event, skipped when the state does not hold the ticket. */
function onTicket<K extends TicketEventType>(fold: (t: Ticket, e: EventOf<K>, st: EngineState, config: CenterConfig) => void): Fold<K> {
  return (st, e, config) => {
    const t = st.tickets[(e as { ticket: string }).ticket];
    if (t) fold(t, e, st, config);
  };
}

function win(st: EngineState, n: number): WindowState {
  return (st.windows[n] ??= { number: n, status: 'closed', served: 0 });
}

/** The ticket is no longer the window's citizen (if it was). */
function leaveWindow(st: EngineState, t: Ticket): void {
  if (t.window === undefined) return;
  const w = st.windows[t.window];
  if (w?.current === t.id) delete w.current;
}

/** Returned or transferred: the ticket waits again, at the front or the back. */
const requeued: (st: EngineState, e: EventOf<'ticket.returned' | 'ticket.transferred'>, config: CenterConfig) => void = onTicket((t, e, st) => {
  if (t.status === 'called' || t.status === 'serving') leaveWindow(st, t);
  if (e.type === 'ticket.transferred') t.service = e.to;
  t.status = 'waiting';
  t.order = e.order;
  t.enqueuedAt = e.at;
  delete t.endedAt;
  delete t.window;
  if (e.position === 'front') st.frontOrder = Math.max(st.frontOrder, e.order);
  else st.nextOrder = Math.max(st.nextOrder, e.order + 1);
});

export const FOLDS: { readonly [K in EventType]: Fold<K> } = {
  'day.rolled': (st, e) => {
    st.day = e.to;
    st.counters = {};
    st.sincePriority = {};
    // Keep recent command ids: a dispenser retry just after the rollover must not issue a second ticket.
    for (const [k, v] of Object.entries(st.refs)) if (e.at - v.at >= DEDUPE_MS) delete st.refs[k];
    for (const [id, tk] of Object.entries(st.tickets)) if (!ACTIVE.has(tk.status)) delete st.tickets[id];
    for (const w of Object.values(st.windows)) w.served = 0;
    // Assignments stay: the window calls the same services tomorrow.
  },

  'ticket.issued': (st, e) => {
    st.tickets[e.ticket] = {
      id: e.ticket,
      number: e.number,
      service: e.service,
      day: e.day,
      n: e.n,
      ...(e.priority ? { priority: e.priority } : {}),
      status: 'waiting',
      order: e.order,
      issuedAt: e.at,
      enqueuedAt: e.at,
      recalls: 0,
      ...(e.device ? { device: e.device } : {}),
      ...(e.inquiry ? { inquiry: e.inquiry } : {}),
      ...(e.requestId ? { requestId: e.requestId } : {}),
      ahead: e.ahead,
      expectedWaitMin: e.expectedWaitMin,
    };
    if (e.order >= st.nextOrder) st.nextOrder = e.order + 1;
    if (e.n > 0) {
      const c = (st.counters[e.service] ??= { issued: 0, last: 0 });
      c.issued++;
      c.last = e.n;
    }
  },

  'ticket.called': onTicket((t, e, st, config) => {
    const w = win(st, e.window);
    w.current = t.id;
    if (w.status !== 'open') {
      w.status = 'open';
      delete w.reason;
    }
    t.status = 'called';
    t.window = e.window;
    t.calledAt = e.at;
    delete t.servingAt;
    t.recalls = 0;
    if (e.how === 'next' && config.queue.priority.rule === 'interleave')
      st.sincePriority[t.service] = t.priority ? 0 : (st.sincePriority[t.service] ?? 0) + 1;
  }),

  'ticket.recalled': onTicket((t, e) => {
    t.recalls = e.count;
  }),

  'ticket.serving': onTicket((t, e) => {
    t.status = 'serving';
    t.servingAt = e.at;
  }),

  'ticket.done': onTicket((t, e, st, config) => {
    leaveWindow(st, t);
    t.status = 'done';
    t.endedAt = e.at;
    if (e.reason === 'rollover') return;
    win(st, e.window).served++;
    if (e.serviceMs > 0 && e.serviceMs <= MAX_SAMPLE_MS) {
      const keep = config.queue.estimate.samples;
      const s = (st.samples[e.service] ??= []);
      s.push(e.serviceMs);
      if (s.length > keep) s.splice(0, s.length - keep);
    }
  }),

  'ticket.noShow': onTicket((t, e, st) => {
    leaveWindow(st, t);
    t.status = 'noShow';
    t.endedAt = e.at;
  }),

  'ticket.returned': requeued,
  'ticket.transferred': requeued,

  'ticket.parked': onTicket((t, _e, st) => {
    leaveWindow(st, t);
    t.status = 'parked';
  }),

  'ticket.attached': onTicket((t, e) => {
    if (e.requestId) t.requestId = e.requestId;
    if (e.inquiry) t.inquiry = e.inquiry;
  }),

  'ticket.cancelled': onTicket((t, e, st) => {
    leaveWindow(st, t);
    t.status = 'cancelled';
    t.endedAt = e.at;
  }),

  'ticket.carried': onTicket((t, e) => {
    t.day = e.to;
  }),

  'ticket.near': onTicket((t, e) => {
    t.nearIn = e.service;
  }),

  'window.opened': (st, e) => {
    const w = win(st, e.window);
    w.status = 'open';
    delete w.reason;
  },

  'window.paused': (st, e) => {
    const w = win(st, e.window);
    w.status = 'paused';
    w.reason = e.reason;
  },

  'window.closed': (st, e) => {
    const w = win(st, e.window);
    w.status = 'closed';
    delete w.reason;
  },

  'window.assigned': (st, e) => {
    // Kept as given, even for services or windows the config no longer has: servicesOf reads around them.
    st.assigned[e.window] = [...e.services];
  },

  // Presence is for reports and the backend; the queues do not depend on it.
  'device.online': () => undefined,
  'device.offline': () => undefined,
  'alert.raised': () => undefined,
  'alert.cleared': () => undefined,
  'selftest.done': () => undefined,
};

/**
 * Folds one event into the state: the latest time and the command's ref
 * (for retries), then what its type changes. An event type this qhub does
 * not know changes only those.
 */
export function fold(st: EngineState, e: QueueEvent, config: CenterConfig): void {
  if (e.at > st.lastAt) st.lastAt = e.at;
  if (e.ref) {
    const ticket = 'ticket' in e ? e.ticket : undefined;
    const seen = (st.refs[e.ref] ??= { at: e.at });
    if (ticket) seen.ticket = ticket;
  }
  if (!Object.hasOwn(FOLDS, e.type)) return;
  (FOLDS[e.type] as Fold<EventType>)(st, e, config);
}
