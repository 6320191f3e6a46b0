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
import { DECIDERS, isCommandType, type Decider } from './commands/index.js';
import { fold } from './fold.js';
import type { EngineQueries } from './queries.js';
import { facts } from './rules.js';
import { emptyState, type EngineState } from './state.js';
import {
  ACTIVE,
  EngineError,
  type Command,
  type CommandType,
  type Decision,
  type EventBody,
  EVENT_VERSION,
  type QueueEvent,
  type StoredEvent,
  type Ticket,
  type WindowState,
} from '../../contract/queue.js';

export { emptyState, type EngineState } from './state.js';
export { facts, pad } from './rules.js';
export { DEDUPE_MS } from './fold.js';


const err = (code: ConstructorParameters<typeof EngineError>[0], message?: string): Decision => ({
  ok: false,
  error: new EngineError(code, message),
});

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

export class Engine implements EngineQueries {
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
  /** Window → the services it calls now (see servicesOf); dropped when an assignment is applied. */
  private readonly servicesCache = new Map<number, readonly string[]>();

  constructor(
    readonly config: CenterConfig,
    state: EngineState = emptyState(),
  ) {
    this.state = state;
    // A snapshot written before assignments existed has none: nothing was assigned.
    state.assigned ??= {};
    this.services = new Map(config.services.map((s) => [s.id, s]));
    this.windowCfg = new Map(config.windows.map((w) => [w.number, w]));
    this.reindex();
  }

  private reindex(): void {
    this.waitingBy.clear();
    this.byNumber.clear();
    this.activeNumbers.clear();
    this.servicesCache.clear();
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

  /** How many priority tickets wait for a service. */
  waitingPriorityCount(service: string): number {
    return this.waitingBy.get(service)?.prio.length ?? 0;
  }

  /** How many wait for any of the services a window calls now. */
  waitingFor(window: number): number {
    let n = 0;
    for (const s of this.effectiveServices(window)) n += this.waitingCount(s);
    return n;
  }

  serviceConfig(id: string): ServiceConfig | undefined {
    return this.services.get(id);
  }

  windowConfig(n: number): WindowConfig | undefined {
    return this.windowCfg.get(n);
  }

  /**
   * The services a window calls now, in pick order: its assignment (`assign`,
   * services no longer in the config left out), else its configured list
   * (also when every service it was assigned has left the config). [] for a
   * window the config does not have.
   */
  servicesOf(window: number): string[] {
    return [...this.effectiveServices(window)];
  }

  /** The windows (in config order) that call a service now. */
  windowsOf(service: string): number[] {
    return this.config.windows.filter((w) => this.effectiveServices(w.number).includes(service)).map((w) => w.number);
  }

  private effectiveServices(window: number): readonly string[] {
    let list = this.servicesCache.get(window);
    if (!list) {
      const w = this.windowCfg.get(window);
      const assigned = (this.state.assigned[window] ?? []).filter((s) => this.services.has(s));
      list = !w ? [] : assigned.length ? assigned : w.services;
      this.servicesCache.set(window, list);
    }
    return list;
  }

  /** How many windows call a service now, and how many of them are open. */
  windowsServing(service: string): { open: number; all: number } {
    let open = 0;
    let all = 0;
    for (const w of this.config.windows) {
      if (!this.effectiveServices(w.number).includes(service)) continue;
      all++;
      if (this.window(w.number).status === 'open') open++;
    }
    return { open, all };
  }

  /** Whether an active ticket holds this printed number. */
  numberInUse(number: string): boolean {
    return this.activeNumbers.has(number);
  }

  /** The ticket a service would give next, by its priority rule. */
  candidate(service: string): Ticket | undefined {
    const w = this.waitingBy.get(service);
    const prio = w?.prio[0];
    const normal = w?.normal[0];
    if (!prio) return normal;
    if (!normal) return prio;
    const rule = this.config.queue.priority;
    if (rule.rule === 'always') return prio;
    return (this.state.sincePriority[service] ?? 0) >= rule.every ? prio : normal;
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

  /** Dispatches a command to its decider (commands/index.ts); an unknown type is refused. */
  private decideFresh(cmd: Command, now: number): Decision {
    const type: unknown = (cmd as { type?: unknown }).type;
    if (!isCommandType(type)) throw new EngineError('invalid_command', `unknown command "${String(type)}"`);
    // One cast: TypeScript cannot tie DECIDERS[cmd.type] to cmd's own variant.
    return (DECIDERS[type] as Decider<CommandType>)(this, cmd, now);
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
      fold(this.state, e, this.config);
      this.reindex(); // once a day: finished tickets are dropped
      return;
    }
    if (e.type === 'window.assigned') {
      fold(this.state, e, this.config);
      this.servicesCache.delete(e.window);
      return;
    }
    const before = 'ticket' in e ? this.state.tickets[e.ticket] : undefined;
    if (before) this.unindex(before);
    try {
      fold(this.state, e, this.config);
    } finally {
      const after = 'ticket' in e ? this.state.tickets[e.ticket] : undefined;
      if (after) this.index(after);
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
      if ('service' in e && e.service) services.add(e.service);
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
