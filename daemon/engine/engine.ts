/**
 * The queue engine: pure. `decide` reads the state and a command (and the time,
 * as an input) and returns the events that would happen, or a typed error;
 * it never changes anything. `apply` folds one event into the state. The
 * daemon stores the events between the two, so nothing is acknowledged,
 * shown or announced before it is on disk, and replaying the stored events
 * rebuilds exactly the same state.
 */
import type { CenterConfig, ServiceConfig, WindowConfig } from '../../config/schema.js';
import { businessDay } from './clock.js';
import {
  ACTIVE,
  EngineError,
  type Command,
  type Decision,
  type EventBody,
  EVENT_VERSION,
  type Position,
  type QueueEvent,
  type StoredEvent,
  type Ticket,
  type TicketFacts,
  type WindowState,
} from '../../contract/queue.js';

/**
 * A retried command (same source and id) returns the first answer for the
 * rest of the business day; ids seen less than this long before the rollover
 * are kept into the new day (a dispenser retrying across 03:00).
 */
export const DEDUPE_MS = 15 * 60_000;
/** Service times above this are not believed (a forgotten "done", a clock jump). */
const MAX_SAMPLE_MS = 3 * 3600_000;
const FRONT_BASE = -1e12;

export interface EngineState {
  /** Current business day; null before the first start. */
  day: string | null;
  /** Latest event time seen: the day never goes back even if the clock does. */
  lastAt: number;
  nextOrder: number;
  frontOrder: number;
  /** Per service, today: how many issued and the last number given. */
  counters: Record<string, { issued: number; last: number }>;
  tickets: Record<string, Ticket>;
  windows: Record<string, WindowState>;
  /** Per service: normal tickets called since the last priority one. */
  sincePriority: Record<string, number>;
  /** Per service: recent service times (ms), newest last. */
  samples: Record<string, number[]>;
  /** Command refs seen recently → time and the ticket it concerned. */
  refs: Record<string, { at: number; ticket?: string }>;
}

export function emptyState(): EngineState {
  return {
    day: null,
    lastAt: 0,
    nextOrder: 1,
    frontOrder: FRONT_BASE,
    counters: {},
    tickets: {},
    windows: {},
    sincePriority: {},
    samples: {},
    refs: {},
  };
}

const err = (code: ConstructorParameters<typeof EngineError>[0], message?: string): Decision => ({
  ok: false,
  error: new EngineError(code, message),
});

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

/**
 * Where the one command path hands decided events to be made durable: it
 * returns them numbered (with `seq`) or throws, and only what it returned is
 * applied. The daemon's Core passes its SQLite store; tests pass a list.
 */
export type Commit = (events: QueueEvent[]) => StoredEvent[];

/** What one step did, besides the events it committed (which the Commit saw). */
export type StepResult =
  | { ok: true; duplicate: boolean; ticket?: string }
  | { ok: false; error: EngineError };

/** Where a ticket of this order goes in a list sorted by order (binary search). */
function orderIndex(list: Ticket[], order: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.order < order) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function pad(n: number, last: number): string {
  return String(n).padStart(Math.max(3, String(last).length), '0');
}

export class Engine {
  readonly state: EngineState;
  private readonly services: Map<string, ServiceConfig>;
  private readonly windowCfg: Map<number, WindowConfig>;
  // Indexes derived from the state, never stored: built here, kept by apply(),
  // so a decision or a view costs what it reads, not the day's tickets.
  /** Service → its waiting tickets, priority and normal apart, each in call order (by `order`). */
  private readonly waitingBy = new Map<string, { prio: Ticket[]; normal: Ticket[] }>();
  /** Printed number (upper case) → tickets with it (today's, and carried ones). */
  private readonly byNumber = new Map<string, Set<Ticket>>();
  /** Printed number → how many active tickets hold it. */
  private readonly activeNumbers = new Map<string, number>();

  constructor(
    readonly config: CenterConfig,
    state: EngineState = emptyState(),
  ) {
    this.state = state;
    this.services = new Map(config.services.map((s) => [s.id, s]));
    this.windowCfg = new Map(config.windows.map((w) => [w.number, w]));
    this.reindex();
  }

  private reindex(): void {
    this.waitingBy.clear();
    this.byNumber.clear();
    this.activeNumbers.clear();
    for (const t of Object.values(this.state.tickets)) this.index(t);
  }

  private index(t: Ticket): void {
    const key = t.number.toUpperCase();
    let same = this.byNumber.get(key);
    if (!same) this.byNumber.set(key, (same = new Set()));
    same.add(t);
    if (ACTIVE.has(t.status)) this.activeNumbers.set(t.number, (this.activeNumbers.get(t.number) ?? 0) + 1);
    if (t.status === 'waiting') {
      let w = this.waitingBy.get(t.service);
      if (!w) this.waitingBy.set(t.service, (w = { prio: [], normal: [] }));
      const list = t.priority ? w.prio : w.normal;
      // Most tickets join at the back; a returned or transferred one may go to the front.
      if (!list.length || list[list.length - 1]!.order < t.order) list.push(t);
      else list.splice(orderIndex(list, t.order), 0, t);
    }
  }

  private unindex(t: Ticket): void {
    const key = t.number.toUpperCase();
    const same = this.byNumber.get(key);
    same?.delete(t);
    if (same && !same.size) this.byNumber.delete(key);
    if (ACTIVE.has(t.status)) {
      const n = (this.activeNumbers.get(t.number) ?? 1) - 1;
      if (n > 0) this.activeNumbers.set(t.number, n);
      else this.activeNumbers.delete(t.number);
    }
    if (t.status === 'waiting') {
      const w = this.waitingBy.get(t.service);
      const list = w && (t.priority ? w.prio : w.normal);
      if (!list) return;
      let i = orderIndex(list, t.order);
      while (i < list.length && list[i] !== t && list[i]!.order === t.order) i++;
      if (list[i] === t) list.splice(i, 1);
      else {
        const j = list.indexOf(t); // orders are unique; this is only a safety net
        if (j >= 0) list.splice(j, 1);
      }
    }
  }

  /**
   * The indexes as they would be rebuilt from the state; tests compare them
   * with the kept ones so incremental upkeep never drifts.
   */
  indexesAgree(): boolean {
    const fresh = new Engine(this.config, this.state);
    // Waiting lists are in call order (compared as they are); tickets sharing a number in any order.
    const ids = (m: Map<string, Iterable<Ticket>>, sorted = false) =>
      [...m]
        .map(([k, v]) => [k, (sorted ? [...v].map((t) => t.id).sort() : [...v].map((t) => t.id)).join(',')] as const)
        .filter(([, v]) => v.length > 0)
        .map(([k, v]) => `${k}:${v}`)
        .sort();
    const waiting = (e: Engine) => new Map([...e.waitingBy].map(([k, w]) => [k, [...w.prio, ...w.normal]]));
    const flat = (e: Engine) => JSON.stringify([ids(waiting(e)), ids(e.byNumber, true), [...e.activeNumbers].sort()]);
    return flat(fresh) === flat(this);
  }

  // ---------------------------------------------------------------- queries

  businessDay(now: number): string {
    return businessDay(now, this.config.center.timezone, this.config.center.day.rollover);
  }

  window(n: number): WindowState {
    return this.state.windows[n] ?? { number: n, status: 'closed', served: 0 };
  }

  /** Finds a ticket by id, or by number (an active one first, else the latest). */
  ticket(ref: string): Ticket | undefined {
    const byId = this.state.tickets[ref];
    if (byId) return byId;
    const want = ref.trim().toUpperCase();
    let found: Ticket | undefined;
    for (const t of this.byNumber.get(want) ?? []) {
      if (!found || (ACTIVE.has(t.status) && !ACTIVE.has(found.status)) || (ACTIVE.has(t.status) === ACTIVE.has(found.status) && t.issuedAt >= found.issuedAt))
        found = t;
    }
    return found;
  }

  /** Waiting tickets of a service in the order they will be called (ignoring the priority rule). */
  waiting(service: string): Ticket[] {
    const w = this.waitingBy.get(service);
    return w ? [...w.prio, ...w.normal].sort((a, b) => a.order - b.order) : [];
  }

  /** How many wait for a service. */
  waitingCount(service: string): number {
    const w = this.waitingBy.get(service);
    return w ? w.prio.length + w.normal.length : 0;
  }

  /** How many wait for any of a window's services. */
  waitingFor(window: number): number {
    let n = 0;
    for (const s of this.windowCfg.get(window)?.services ?? []) n += this.waitingCount(s);
    return n;
  }



  windowsServing(service: string): { open: number; all: number } {
    let open = 0;
    let all = 0;
    for (const w of this.config.windows) {
      if (!w.services.includes(service)) continue;
      all++;
      if (this.window(w.number).status === 'open') open++;
    }
    return { open, all };
  }

  /** Mean of recent service times for a service, in minutes. */
  serviceMinutes(service: string): number {
    const s = this.state.samples[service];
    if (!s?.length) return this.config.queue.estimate.defaultServiceMinutes;
    return s.reduce((a, b) => a + b, 0) / s.length / 60_000;
  }

  /** Expected wait in minutes for someone with `ahead` people before them. */
  expectedWait(service: string, ahead: number): number {
    const { open } = this.windowsServing(service);
    return Math.round((ahead * this.serviceMinutes(service)) / Math.max(1, open));
  }

  // ---------------------------------------------------------------- deciding

  /** Events that close the previous business day and open the current one; [] when nothing changes. */
  decideRollover(now: number): EventBody[] {
    const to = this.businessDay(now);
    const from = this.state.day;
    if (from !== null && to <= from) return []; // same day, or the clock went back: never restart numbering
    const out: EventBody[] = [];
    if (from !== null) {
      const carry = this.config.center.day.leftovers === 'carry';
      for (const t of Object.values(this.state.tickets).sort((a, b) => a.order - b.order)) {
        if (!ACTIVE.has(t.status)) continue;
        if (t.status === 'called' || t.status === 'serving') {
          out.push({ type: 'ticket.done', ...facts(t), window: t.window ?? 0, serviceMs: 0, reason: 'rollover' });
        } else if (carry && (t.status === 'waiting' || t.status === 'parked')) {
          out.push({ type: 'ticket.carried', ...facts(t), from, to });
        } else {
          out.push({ type: 'ticket.cancelled', ...facts(t), reason: 'day ended' });
        }
      }
      for (const w of Object.values(this.state.windows)) if (w.status !== 'closed') out.push({ type: 'window.closed', window: w.number });
    }
    out.push({ type: 'day.rolled', from, to });
    return out;
  }

  /** What a command would do. Never changes the state. */
  decide(cmd: Command, now: number): Decision {
    if (this.state.day === null) return err('invalid_command', 'the business day has not started: roll over first');
    const ref = cmd.source && cmd.id ? `${cmd.source}/${cmd.id}` : undefined;
    if (ref) {
      const seen = this.state.refs[ref];
      // A retry whose ticket was cancelled by the rollover is a new request: the citizen still needs a ticket.
      const gone = seen?.ticket !== undefined && !this.state.tickets[seen.ticket];
      // Remembered for the whole business day (and DEDUPE_MS past the rollover), whatever the
      // wall clock does meanwhile: an NTP step must not turn a retry into a second ticket.
      if (seen && !gone) return { ok: true, events: [], duplicate: true, ticket: seen.ticket };
    }
    try {
      return this.decideFresh(cmd, now);
    } catch (e) {
      if (e instanceof EngineError) return { ok: false, error: e };
      throw e;
    }
  }

  private service(id: string): ServiceConfig {
    const s = this.services.get(id);
    if (!s) throw new EngineError('unknown_service', `no service "${id}"`);
    return s;
  }

  private windowConfig(n: number): WindowConfig {
    const w = typeof n === 'number' ? this.windowCfg.get(n) : undefined;
    if (!w) throw new EngineError('unknown_window', `no window ${String(n)}`);
    return w;
  }

  private findTicket(ref: string | undefined): Ticket {
    const t = ref === undefined ? undefined : this.ticket(String(ref));
    if (!t) throw new EngineError('unknown_ticket', `no ticket "${String(ref)}" today`);
    return t;
  }

  private current(n: number): Ticket {
    const w = this.window(n);
    const t = w.current ? this.state.tickets[w.current] : undefined;
    if (!t) throw new EngineError('window_idle', `window ${n} has no citizen now`);
    return t;
  }

  /** Events that make a window ready to call: open it if allowed, end the current visit as configured. */
  private prepareToCall(n: number, now: number): EventBody[] {
    this.windowConfig(n);
    const w = this.window(n);
    const out: EventBody[] = [];
    if (w.status !== 'open') {
      if (!this.config.queue.openOnCall) throw new EngineError(w.status === 'paused' ? 'window_paused' : 'window_closed');
      out.push({ type: 'window.opened', window: n });
    }
    const cur = w.current ? this.state.tickets[w.current] : undefined;
    if (cur) {
      const rule = this.config.queue.busyNext[cur.status === 'serving' ? 'serving' : 'called'];
      if (rule === 'reject') throw new EngineError('window_busy', `window ${n} still has ${cur.number}: finish it first`);
      out.push(rule === 'noShow' ? this.noShowEvent(cur, n) : this.doneEvent(cur, n, now));
    }
    return out;
  }

  private doneEvent(t: Ticket, window: number, now: number): EventBody {
    const since = t.servingAt ?? t.calledAt ?? now;
    return { type: 'ticket.done', ...facts(t), window, serviceMs: Math.max(0, now - since) };
  }

  private noShowEvent(t: Ticket, window: number): EventBody {
    return { type: 'ticket.noShow', ...facts(t), window };
  }

  private callEvent(t: Ticket, window: number, how: 'next' | 'ticket' | 'inquiry' | 'resume', now: number): EventBody {
    return {
      type: 'ticket.called',
      ...facts(t),
      window,
      how,
      waitMs: Math.max(0, now - t.enqueuedAt),
      ...(t.priority ? { priority: t.priority } : {}),
    };
  }

  /** The ticket a service would give next, by its priority rule. */
  private candidate(service: string): Ticket | undefined {
    const w = this.waitingBy.get(service);
    const prio = w?.prio[0];
    const normal = w?.normal[0];
    if (!prio) return normal;
    if (!normal) return prio;
    const rule = this.config.queue.priority;
    if (rule.rule === 'always') return prio;
    return (this.state.sincePriority[service] ?? 0) >= rule.every ? prio : normal;
  }

  private pick(w: WindowConfig): Ticket | undefined {
    const candidates = w.services.map((s) => this.candidate(s)).filter((t): t is Ticket => !!t);
    if (w.pick === 'order') return candidates[0];
    return candidates.sort((a, b) => a.enqueuedAt - b.enqueuedAt || a.order - b.order)[0];
  }

  private orderFor(position: Position): number {
    return position === 'front' ? this.state.frontOrder + 1 : this.state.nextOrder;
  }

  private nextNumber(s: ServiceConfig): number {
    const c = this.state.counters[s.id];
    // Every active number, whatever service its ticket waits in now: a ticket
    // transferred to another service keeps its number (prefixes are unique).
    const inUse = this.activeNumbers;
    const size = s.last - s.first + 1;
    let n = c ? c.last + 1 : s.first;
    for (let i = 0; i < size; i++, n++) {
      if (n > s.last || n < s.first) n = s.first;
      if (!inUse.has(s.prefix + pad(n, s.last))) return n;
    }
    throw new EngineError('numbers_exhausted', `every number ${s.prefix}${pad(s.first, s.last)}–${s.prefix}${pad(s.last, s.last)} is in use`);
  }

  private decideFresh(cmd: Command, now: number): Decision {
    const day = this.state.day!;
    const q = this.config.queue;
    const ok = (events: EventBody[], ticket?: string): Decision => ({ ok: true, events, ...(ticket ? { ticket } : {}) });

    switch (cmd.type) {
      case 'issue': {
        const s = this.service(cmd.service);
        if (cmd.priority !== undefined && (!s.priority || typeof cmd.priority !== 'string' || !cmd.priority))
          throw new EngineError('no_priority', `service "${s.id}" has no priority tickets`);
        const n = this.nextNumber(s);
        const issued = (this.state.counters[s.id]?.issued ?? 0) + 1;
        const ahead = cmd.priority ? (this.waitingBy.get(s.id)?.prio.length ?? 0) : this.waitingCount(s.id);
        const id = `${day}/${s.id}/${issued}`;
        return ok(
          [
            {
              type: 'ticket.issued',
              ticket: id,
              number: s.prefix + pad(n, s.last),
              service: s.id,
              n,
              ...(cmd.priority ? { priority: cmd.priority } : {}),
              ...(cmd.source ? { device: cmd.source } : {}),
              ahead,
              expectedWaitMin: this.expectedWait(s.id, ahead),
              order: this.state.nextOrder,
            },
          ],
          id,
        );
      }

      case 'next': {
        const w = this.windowConfig(cmd.window);
        const events = this.prepareToCall(cmd.window, now);
        const t = this.pick(w);
        if (t) events.push(this.callEvent(t, cmd.window, 'next', now));
        return ok(events, t?.id);
      }

      case 'recall': {
        this.windowConfig(cmd.window);
        const t = this.current(cmd.window);
        return ok([{ type: 'ticket.recalled', ...facts(t), window: cmd.window, count: t.recalls + 1 }], t.id);
      }

      case 'start': {
        this.windowConfig(cmd.window);
        const t = this.current(cmd.window);
        if (t.status !== 'called') throw new EngineError('wrong_state', `${t.number} is already being served`);
        return ok([{ type: 'ticket.serving', ...facts(t), window: cmd.window }], t.id);
      }

      case 'finish': {
        this.windowConfig(cmd.window);
        const t = this.current(cmd.window);
        return ok([this.doneEvent(t, cmd.window, now)], t.id);
      }

      case 'noShow': {
        this.windowConfig(cmd.window);
        const t = this.current(cmd.window);
        if (t.status !== 'called') throw new EngineError('wrong_state', `${t.number} is being served: finish it instead`);
        return ok([this.noShowEvent(t, cmd.window)], t.id);
      }

      case 'returnNoShow': {
        const t = this.findTicket(cmd.ticket);
        if (t.status !== 'noShow') throw new EngineError('wrong_state', `${t.number} is not a no-show`);
        if (now - (t.endedAt ?? now) > q.noShowGraceMinutes * 60_000)
          throw new EngineError('grace_expired', `${t.number} missed its call more than ${q.noShowGraceMinutes} minutes ago: issue a new ticket`);
        return ok([{ type: 'ticket.returned', ...facts(t), position: q.noShowReturn, order: this.orderFor(q.noShowReturn) }], t.id);
      }

      case 'transfer': {
        this.windowConfig(cmd.window);
        const t = this.current(cmd.window);
        const s = this.service(cmd.service);
        if (s.id === t.service) throw new EngineError('same_service', `${t.number} is already in ${s.id}`);
        const position = cmd.position ?? s.transferPosition ?? q.transferPosition;
        return ok(
          [{ type: 'ticket.transferred', ...facts(t), service: s.id, window: cmd.window, from: t.service, to: s.id, position, order: this.orderFor(position) }],
          t.id,
        );
      }

      case 'park': {
        this.windowConfig(cmd.window);
        const t = this.current(cmd.window);
        return ok([{ type: 'ticket.parked', ...facts(t), window: cmd.window }], t.id);
      }

      case 'resume': {
        const t = this.findTicket(cmd.ticket);
        if (t.status !== 'parked') throw new EngineError('wrong_state', `${t.number} is not parked`);
        const events = this.prepareToCall(cmd.window, now);
        events.push(this.callEvent(t, cmd.window, 'resume', now));
        return ok(events, t.id);
      }

      case 'callTicket': {
        const w = this.windowConfig(cmd.window);
        const t = this.findTicket(cmd.ticket);
        if (t.status !== 'waiting') throw new EngineError('wrong_state', `${t.number} is not waiting (${t.status})`);
        if (!w.services.includes(t.service)) throw new EngineError('not_served_here', `window ${w.number} does not serve ${t.service}`);
        const events = this.prepareToCall(cmd.window, now);
        events.push(this.callEvent(t, cmd.window, 'ticket', now));
        return ok(events, t.id);
      }

      case 'callInquiry': {
        const w = this.windowConfig(cmd.window);
        const inquiry = String(cmd.inquiry ?? '').trim();
        if (!/^[A-Za-z0-9-]{1,24}$/.test(inquiry)) throw new EngineError('invalid_command', 'an inquiry number is 1–24 letters, digits or "-"');
        const events = this.prepareToCall(cmd.window, now);
        const existing = Object.values(this.state.tickets).find((t) => t.inquiry === inquiry && (t.status === 'waiting' || t.status === 'parked'));
        if (!existing && this.activeNumbers.has(inquiry)) throw new EngineError('invalid_command', `"${inquiry}" is the number of a ticket in use: call it with "call", or give the inquiry number`);
        if (existing) {
          events.push(this.callEvent(existing, cmd.window, 'inquiry', now));
          return ok(events, existing.id);
        }
        // The citizen holds no ticket for it: the board shows the inquiry number itself.
        const service = w.services[0]!;
        let id = `${day}/${service}/q${inquiry}`;
        for (let k = 2; this.state.tickets[id]; k++) id = `${day}/${service}/q${inquiry}.${k}`;
        const issued: Ticket = {
          id,
          number: inquiry,
          service,
          day,
          n: 0,
          status: 'waiting',
          order: this.state.nextOrder,
          issuedAt: now,
          enqueuedAt: now,
          recalls: 0,
          inquiry,
          ahead: 0,
          expectedWaitMin: 0,
        };
        events.push(
          { type: 'ticket.issued', ticket: id, number: inquiry, service, n: 0, inquiry, ahead: 0, expectedWaitMin: 0, order: issued.order },
          this.callEvent(issued, cmd.window, 'inquiry', now),
        );
        return ok(events, id);
      }

      case 'attach': {
        const t = this.findTicket(cmd.ticket);
        if (cmd.requestId === undefined && cmd.inquiry === undefined) throw new EngineError('invalid_command', 'attach needs a requestId or an inquiry number');
        for (const v of [cmd.requestId, cmd.inquiry])
          if (v !== undefined && (typeof v !== 'string' || !/^[A-Za-z0-9/_-]{1,64}$/.test(v)))
            throw new EngineError('invalid_command', 'request ids and inquiry numbers are 1–64 letters, digits, "/", "_" or "-"');
        return ok(
          [{ type: 'ticket.attached', ...facts(t), ...(cmd.requestId ? { requestId: cmd.requestId } : {}), ...(cmd.inquiry ? { inquiry: cmd.inquiry } : {}) }],
          t.id,
        );
      }

      case 'requeue': {
        const s = this.service(cmd.service);
        let t: Ticket | undefined;
        if (cmd.ticket !== undefined) t = this.findTicket(cmd.ticket);
        else {
          const match = Object.values(this.state.tickets)
            .filter((x) => (cmd.requestId && x.requestId === cmd.requestId) || (cmd.inquiry && x.inquiry === cmd.inquiry))
            .sort((a, b) => b.issuedAt - a.issuedAt);
          t = match[0];
          if (!t) throw new EngineError('unknown_ticket', `no ticket today for ${cmd.requestId ? `request ${cmd.requestId}` : `inquiry ${String(cmd.inquiry)}`}`);
        }
        if (t.status === 'called' || t.status === 'serving')
          throw new EngineError('wrong_state', `${t.number} is at window ${t.window}: transfer it from there`);
        if (t.status === 'waiting' && t.service === s.id) throw new EngineError('same_service', `${t.number} already waits for ${s.id}`);
        const position = cmd.position ?? s.transferPosition ?? q.transferPosition;
        return ok(
          [{ type: 'ticket.transferred', ...facts(t), service: s.id, from: t.service, to: s.id, position, order: this.orderFor(position) }],
          t.id,
        );
      }

      case 'enqueueInquiry': {
        const s = this.service(cmd.service);
        const inquiry = String(cmd.inquiry ?? '').trim();
        if (!/^[A-Za-z0-9-]{1,24}$/.test(inquiry)) throw new EngineError('invalid_command', 'an inquiry number is 1–24 letters, digits or "-"');
        if (cmd.requestId !== undefined && (typeof cmd.requestId !== 'string' || !/^[A-Za-z0-9/_-]{1,64}$/.test(cmd.requestId)))
          throw new EngineError('invalid_command', 'a request id is 1–64 letters, digits, "/", "_" or "-"');
        const today = Object.values(this.state.tickets)
          .filter((x) => x.inquiry === inquiry && ACTIVE.has(x.status))
          .sort((a, b) => b.issuedAt - a.issuedAt)[0];
        if (!today && this.activeNumbers.has(inquiry)) throw new EngineError('invalid_command', `"${inquiry}" is the number of a ticket in use: an inquiry number must differ from ticket numbers`);
        if (today) {
          // Already waiting there (the backend said "ready" twice): nothing to do.
          if (today.status === 'waiting' && today.service === s.id) return ok([], today.id);
          if (today.status === 'called' || today.status === 'serving') throw new EngineError('wrong_state', `${today.number} is at window ${today.window}`);
          const position = s.transferPosition ?? q.transferPosition;
          return ok([{ type: 'ticket.transferred', ...facts(today), service: s.id, from: today.service, to: s.id, position, order: this.orderFor(position) }], today.id);
        }
        // No ticket today: the citizen is called by the inquiry number itself.
        let id = `${day}/${s.id}/q${inquiry}`;
        for (let k = 2; this.state.tickets[id]; k++) id = `${day}/${s.id}/q${inquiry}.${k}`;
        const queued = this.waitingCount(s.id);
        return ok(
          [
            {
              type: 'ticket.issued',
              ticket: id,
              number: inquiry,
              service: s.id,
              n: 0,
              inquiry,
              ...(cmd.requestId ? { requestId: cmd.requestId } : {}),
              ahead: queued,
              expectedWaitMin: this.expectedWait(s.id, queued),
              order: this.state.nextOrder,
            },
          ],
          id,
        );
      }

      case 'cancel': {
        const t = this.findTicket(cmd.ticket);
        if (!ACTIVE.has(t.status)) throw new EngineError('wrong_state', `${t.number} is already ${t.status}`);
        if (t.status === 'called' || t.status === 'serving') throw new EngineError('window_busy', `${t.number} is at window ${t.window}`);
        return ok([{ type: 'ticket.cancelled', ...facts(t), reason: typeof cmd.reason === 'string' ? cmd.reason.slice(0, 120) : 'cancelled' }], t.id);
      }

      case 'open': {
        this.windowConfig(cmd.window);
        return ok(this.window(cmd.window).status === 'open' ? [] : [{ type: 'window.opened', window: cmd.window }]);
      }

      case 'pause': {
        this.windowConfig(cmd.window);
        const w = this.window(cmd.window);
        if (w.current) throw new EngineError('window_busy', `window ${cmd.window} still has a citizen: finish first`);
        if (w.status === 'closed') throw new EngineError('window_closed');
        const reason = typeof cmd.reason === 'string' && cmd.reason.trim() ? cmd.reason.trim().slice(0, 120) : 'break';
        return ok([{ type: 'window.paused', window: cmd.window, reason }]);
      }

      case 'close': {
        this.windowConfig(cmd.window);
        const w = this.window(cmd.window);
        if (w.current) throw new EngineError('window_busy', `window ${cmd.window} still has a citizen: finish first`);
        return ok(w.status === 'closed' ? [] : [{ type: 'window.closed', window: cmd.window }]);
      }

      default:
        throw new EngineError('invalid_command', `unknown command "${String((cmd as { type?: unknown }).type)}"`);
    }
  }

  /** Adds the format version, time, business day and the command's source and ref to decided events. */
  stamp(bodies: EventBody[], now: number, cmd?: { source?: string; id?: string }): QueueEvent[] {
    const ref = cmd?.source && cmd.id ? `${cmd.source}/${cmd.id}` : undefined;
    const source = typeof cmd?.source === 'string' && cmd.source ? cmd.source : undefined;
    return bodies.map((b) => ({
      ...b,
      v: EVENT_VERSION,
      at: now,
      day: b.type === 'day.rolled' ? b.to : (this.state.day ?? ''),
      ...(source ? { source } : {}),
      ...(ref ? { ref } : {}),
    }));
  }

  // ---------------------------------------------------------------- applying

  /** Folds one event into the state (and its indexes). Tolerates events about things the config no longer has. */
  apply(e: QueueEvent): void {
    if (e.type === 'day.rolled') {
      this.fold(e);
      this.reindex(); // once a day: finished tickets are dropped
      return;
    }
    const before = 'ticket' in e ? this.state.tickets[e.ticket] : undefined;
    if (before) this.unindex(before);
    try {
      this.fold(e);
    } finally {
      const after = 'ticket' in e ? this.state.tickets[e.ticket] : undefined;
      if (after) this.index(after);
    }
  }

  private fold(e: QueueEvent): void {
    const st = this.state;
    if (e.at > st.lastAt) st.lastAt = e.at;
    if (e.ref) {
      const ticket = 'ticket' in e ? e.ticket : undefined;
      const seen = (st.refs[e.ref] ??= { at: e.at });
      if (ticket) seen.ticket = ticket;
    }
    const t = 'ticket' in e ? st.tickets[e.ticket] : undefined;
    const win = (n: number): WindowState => (st.windows[n] ??= { number: n, status: 'closed', served: 0 });
    const leaveWindow = (tk: Ticket) => {
      if (tk.window !== undefined) {
        const w = st.windows[tk.window];
        if (w?.current === tk.id) delete w.current;
      }
    };

    switch (e.type) {
      case 'day.rolled': {
        st.day = e.to;
        st.counters = {};
        st.sincePriority = {};
        // Keep recent command ids: a dispenser retry just after the rollover must not issue a second ticket.
        for (const [k, v] of Object.entries(st.refs)) if (e.at - v.at >= DEDUPE_MS) delete st.refs[k];
        for (const [id, tk] of Object.entries(st.tickets)) if (!ACTIVE.has(tk.status)) delete st.tickets[id];
        for (const w of Object.values(st.windows)) w.served = 0;
        return;
      }
      case 'ticket.issued': {
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
        return;
      }
      case 'ticket.called': {
        if (!t) return;
        const w = win(e.window);
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
        if (e.how === 'next' && this.config.queue.priority.rule === 'interleave')
          st.sincePriority[t.service] = t.priority ? 0 : (st.sincePriority[t.service] ?? 0) + 1;
        return;
      }
      case 'ticket.recalled':
        if (t) t.recalls = e.count;
        return;
      case 'ticket.serving':
        if (t) {
          t.status = 'serving';
          t.servingAt = e.at;
        }
        return;
      case 'ticket.done': {
        if (!t) return;
        leaveWindow(t);
        t.status = 'done';
        t.endedAt = e.at;
        if (e.reason !== 'rollover') {
          win(e.window).served++;
          if (e.serviceMs > 0 && e.serviceMs <= MAX_SAMPLE_MS) {
            const s = (st.samples[e.service] ??= []);
            s.push(e.serviceMs);
            if (s.length > this.config.queue.estimate.samples) s.splice(0, s.length - this.config.queue.estimate.samples);
          }
        }
        return;
      }
      case 'ticket.noShow':
        if (!t) return;
        leaveWindow(t);
        t.status = 'noShow';
        t.endedAt = e.at;
        return;
      case 'ticket.returned':
      case 'ticket.transferred': {
        if (!t) return;
        if (t.status === 'called' || t.status === 'serving') leaveWindow(t);
        if (e.type === 'ticket.transferred') t.service = e.to;
        t.status = 'waiting';
        t.order = e.order;
        t.enqueuedAt = e.at;
        delete t.endedAt;
        delete t.window;
        if (e.position === 'front') st.frontOrder = Math.max(st.frontOrder, e.order);
        else st.nextOrder = Math.max(st.nextOrder, e.order + 1);
        return;
      }
      case 'ticket.parked':
        if (!t) return;
        leaveWindow(t);
        t.status = 'parked';
        return;
      case 'ticket.attached':
        if (!t) return;
        if (e.requestId) t.requestId = e.requestId;
        if (e.inquiry) t.inquiry = e.inquiry;
        return;
      case 'ticket.cancelled':
        if (!t) return;
        leaveWindow(t);
        t.status = 'cancelled';
        t.endedAt = e.at;
        return;
      case 'ticket.carried':
        if (t) t.day = e.to;
        return;
      case 'ticket.near':
        if (t) t.nearIn = e.service;
        return;
      case 'window.opened': {
        const w = win(e.window);
        w.status = 'open';
        delete w.reason;
        return;
      }
      case 'window.paused': {
        const w = win(e.window);
        w.status = 'paused';
        w.reason = e.reason;
        return;
      }
      case 'window.closed': {
        const w = win(e.window);
        w.status = 'closed';
        delete w.reason;
        return;
      }
    }
  }

  /**
   * `ticket.near` events for linked tickets now within `queue.nearAhead` of
   * their turn, in the services the given events touched. Reads only the
   * first nearAhead + 1 of each queue (in order, priority apart).
   */
  decideNear(events: EventBody[]): EventBody[] {
    const limit = this.config.queue.nearAhead;
    if (limit === undefined) return [];
    const services = new Set<string>();
    for (const e of events) {
      if ('service' in e) services.add(e.service);
      if (e.type === 'ticket.transferred') services.add(e.from);
    }
    const out: EventBody[] = [];
    for (const s of services) {
      const w = this.waitingBy.get(s);
      if (!w) continue;
      // The first few of the merged queue (by order); enough to see limit + 1 places.
      const head = [...w.prio.slice(0, limit + 1), ...w.normal.slice(0, limit + 1)].sort((a, b) => a.order - b.order).slice(0, limit + 1);
      head.forEach((t, ahead) => {
        if (t.requestId && t.nearIn !== s) out.push({ type: 'ticket.near', ...facts(t), ahead });
      });
    }
    return out;
  }

  /**
   * The one command path, the same for the daemon and for tests: roll the
   * business day over if it is due, decide the command against the state,
   * and for each batch of events: stamp, `commit` (durable before anything
   * else), then apply exactly what was committed. A refused command changes
   * nothing (but a due rollover still happened). When `commit` throws, the
   * events of that batch are not applied and the error propagates.
   * Without a command, only the rollover is done (the daemon's timer).
   */
  step(cmd: Command | undefined, now: number, commit: Commit): StepResult {
    const rolled = this.decideRollover(now);
    if (rolled.length) for (const e of commit(this.stamp(rolled, now))) this.apply(e);
    if (!cmd) return { ok: true, duplicate: false };
    const d = this.decide(cmd, now);
    if (!d.ok) return d;
    if (d.duplicate) return { ok: true, duplicate: true, ...(d.ticket ? { ticket: d.ticket } : {}) };
    if (d.events.length) {
      for (const e of commit(this.stamp(d.events, now, cmd))) this.apply(e);
      // Queues that moved may have brought a linked ticket near its turn.
      const near = this.decideNear(d.events);
      // Without the command's ref: a retry of the command must still find the command's own ticket.
      if (near.length) for (const e of commit(this.stamp(near, now))) this.apply(e);
    }
    return { ok: true, duplicate: false, ...(d.ticket ? { ticket: d.ticket } : {}) };
  }
}
