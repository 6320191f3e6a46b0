/**
 * Rules shared by several commands' deciders: typed lookups that refuse with
 * the right code, input checks, and the events more than one command makes
 * (a call, the end of a visit, a transfer, a ticket named by an inquiry
 * number). Pure functions of the engine's queries and their arguments.
 */
import type { ServiceConfig, WindowConfig } from '../../config/schema.js';
import type { EngineQueries } from './queries.js';
import { EngineError, type Decision, type ErrorCode, type EventBody, type Position, type Ticket, type TicketFacts } from '../../contract/queue.js';

// ---------------------------------------------------------------- answers

export function ok(events: EventBody[], ticket?: string): Decision {
  return { ok: true, events, ...(ticket ? { ticket } : {}) };
}

export function refuse(code: ErrorCode, message?: string): never {
  throw new EngineError(code, message);
}

// ---------------------------------------------------------------- input

/** An inquiry number as the backend and the clerks give it: letters, digits and "-". */
export const INQUIRY_RE = /^[A-Za-z0-9-]{1,24}$/;
/** A request id of the backend's tracking system. */
export const REQUEST_ID_RE = /^[A-Za-z0-9/_-]{1,64}$/;

/** The inquiry number given (trimmed), or invalid_command. */
export function inquiryNumber(value: unknown): string {
  const inquiry = typeof value === 'string' || typeof value === 'number' ? String(value).trim() : '';
  if (!INQUIRY_RE.test(inquiry)) refuse('invalid_command', 'an inquiry number is 1–24 letters, digits or "-"');
  return inquiry;
}

/** The request id given (undefined when none), or invalid_command. */
export function requestId(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !REQUEST_ID_RE.test(value)) refuse('invalid_command', 'a request id is 1–64 letters, digits, "/", "_" or "-"');
  return value;
}

/** Where a ticket sent to service `to` joins its queue: as asked, else the service's rule, else the center's. */
export function transferPosition(q: EngineQueries, to: ServiceConfig, asked?: unknown): Position {
  if (asked === undefined || asked === null) return to.transferPosition ?? q.config.queue.transferPosition;
  if (asked !== 'front' && asked !== 'back') refuse('invalid_command', `a position is "front" or "back", not ${JSON.stringify(asked)}`);
  return asked;
}

// ---------------------------------------------------------------- lookups that refuse

export function requireService(q: EngineQueries, id: string): ServiceConfig {
  const s = typeof id === 'string' ? q.serviceConfig(id) : undefined;
  if (!s) refuse('unknown_service', `no service "${String(id)}"`);
  return s;
}

export function requireWindow(q: EngineQueries, n: number): WindowConfig {
  const w = typeof n === 'number' ? q.windowConfig(n) : undefined;
  if (!w) refuse('unknown_window', `no window ${String(n)}`);
  return w;
}

export function requireTicket(q: EngineQueries, ref: string | undefined): Ticket {
  const t = ref === undefined ? undefined : q.ticket(String(ref));
  if (!t) refuse('unknown_ticket', `no ticket "${String(ref)}" today`);
  return t;
}

/** The citizen at a window, or window_idle. */
export function requireCurrent(q: EngineQueries, n: number): Ticket {
  const w = q.window(n);
  const t = w.current ? q.state.tickets[w.current] : undefined;
  if (!t) refuse('window_idle', `window ${n} has no citizen now`);
  return t;
}

// ---------------------------------------------------------------- events

/** What a ticket event says about its ticket (see TicketFacts). */
export function facts(t: Ticket): TicketFacts {
  return {
    ticket: t.id,
    number: t.number,
    service: t.service,
    ...(t.requestId ? { requestId: t.requestId } : {}),
    ...(t.inquiry ? { inquiry: t.inquiry } : {}),
  };
}

export function pad(n: number, last: number): string {
  return String(n).padStart(Math.max(3, String(last).length), '0');
}

/** The sort key of a ticket joining a queue at `position`. */
export function orderFor(q: EngineQueries, position: Position): number {
  return position === 'front' ? q.state.frontOrder + 1 : q.state.nextOrder;
}

export function callEvent(t: Ticket, window: number, how: 'next' | 'ticket' | 'inquiry' | 'resume', now: number): EventBody {
  return {
    type: 'ticket.called',
    ...facts(t),
    window,
    how,
    waitMs: Math.max(0, now - t.enqueuedAt),
    ...(t.priority ? { priority: t.priority } : {}),
  };
}

export function doneEvent(t: Ticket, window: number, now: number): EventBody {
  const since = t.servingAt ?? t.calledAt ?? now;
  return { type: 'ticket.done', ...facts(t), window, serviceMs: Math.max(0, now - since) };
}

export function noShowEvent(t: Ticket, window: number): EventBody {
  return { type: 'ticket.noShow', ...facts(t), window };
}

/** A ticket now waits for service `to` (from a window, or requeued by the backend when `window` is absent). */
export function transferEvent(q: EngineQueries, t: Ticket, to: ServiceConfig, position: Position, window?: number): EventBody {
  return {
    type: 'ticket.transferred',
    ...facts(t),
    service: to.id,
    ...(window !== undefined ? { window } : {}),
    from: t.service,
    to: to.id,
    position,
    order: orderFor(q, position),
  };
}

/**
 * A ticket named by an inquiry number (the citizen holds no ticket for it):
 * the `ticket.issued` event, and the ticket as it will be once applied (so a
 * call can be decided in the same step). Its id is `day/service/q<inquiry>`,
 * with `.2`, `.3`… when the number came before today.
 */
export function inquiryTicket(
  q: EngineQueries,
  service: string,
  inquiry: string,
  now: number,
  more: { requestId?: string; ahead: number; expectedWaitMin: number },
): { ticket: Ticket; event: EventBody } {
  const day = q.state.day!;
  let id = `${day}/${service}/q${inquiry}`;
  for (let k = 2; q.state.tickets[id]; k++) id = `${day}/${service}/q${inquiry}.${k}`;
  const order = q.state.nextOrder;
  const link = more.requestId ? { requestId: more.requestId } : {};
  return {
    ticket: { id, number: inquiry, service, day, n: 0, status: 'waiting', order, issuedAt: now, enqueuedAt: now, recalls: 0, inquiry, ...link, ahead: more.ahead, expectedWaitMin: more.expectedWaitMin },
    event: { type: 'ticket.issued', ticket: id, number: inquiry, service, n: 0, inquiry, ...link, ahead: more.ahead, expectedWaitMin: more.expectedWaitMin, order },
  };
}

/** Events that make a window ready to call: open it if allowed, end the current visit as configured. */
export function prepareToCall(q: EngineQueries, n: number, now: number): EventBody[] {
  requireWindow(q, n);
  const w = q.window(n);
  const out: EventBody[] = [];
  if (w.status !== 'open') {
    if (!q.config.queue.openOnCall) refuse(w.status === 'paused' ? 'window_paused' : 'window_closed');
    out.push({ type: 'window.opened', window: n });
  }
  const cur = w.current ? q.state.tickets[w.current] : undefined;
  if (cur) {
    const rule = q.config.queue.busyNext[cur.status === 'serving' ? 'serving' : 'called'];
    if (rule === 'reject') refuse('window_busy', `window ${n} still has ${cur.number}: finish it first`);
    out.push(rule === 'noShow' ? noShowEvent(cur, n) : doneEvent(cur, n, now));
  }
  return out;
}

/** The ticket a window's "next" calls: over the services it calls now, by its pick rule. */
export function pick(q: EngineQueries, w: WindowConfig): Ticket | undefined {
  const candidates = q.servicesOf(w.number).map((s) => q.candidate(s)).filter((t): t is Ticket => !!t);
  if (w.pick === 'order') return candidates[0];
  return candidates.sort((a, b) => a.enqueuedAt - b.enqueuedAt || a.order - b.order)[0];
}

/** The next free number of a service, after the last one given, wrapping round. */
export function nextNumber(q: EngineQueries, s: ServiceConfig): number {
  const c = q.state.counters[s.id];
  // Every active number, whatever service its ticket waits in now: a ticket
  // transferred to another service keeps its number (prefixes are unique).
  const size = s.last - s.first + 1;
  let n = c ? c.last + 1 : s.first;
  for (let i = 0; i < size; i++, n++) {
    if (n > s.last || n < s.first) n = s.first;
    if (!q.numberInUse(s.prefix + pad(n, s.last))) return n;
  }
  refuse('numbers_exhausted', `every number ${s.prefix}${pad(s.first, s.last)}–${s.prefix}${pad(s.last, s.last)} is in use`);
}
