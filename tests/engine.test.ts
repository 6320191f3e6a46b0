/**
 * The queue engine as a citizen, a clerk and a supervisor see it. Every test
 * drives the pure Engine with a fake clock (plain `now` numbers) and checks
 * what would show on a ticket, a keypad, a board or a report.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkCenterText, formatProblem } from '../config/load.js';
import type { CenterConfig } from '../config/schema.js';
import { DEDUPE_MS, Engine } from '../daemon/engine/engine.js';
import { Figures } from '../daemon/engine/stats.js';
import { ACTIVE, type Command, type ErrorCode, type QueueEvent, type StoredEvent, type Ticket } from '../contract/queue.js';
import { runStep, type RunResult } from './helpers/engine-run.js';

// ------------------------------------------------------------------ helpers

const EXAMPLE = readFileSync(new URL('../config/center.example.yaml', import.meta.url), 'utf8');

/** The shipped example center (Cairo, rollover 03:00, interleave every 3, 6 default minutes), optionally changed. */
function exampleConfig(mod?: (c: CenterConfig) => void): CenterConfig {
  const { config, problems } = checkCenterText(EXAMPLE, 'center.example.yaml');
  if (!config) throw new Error(problems.map(formatProblem).join('\n'));
  mod?.(config);
  return config;
}

/** A small center written as YAML, through the same loader the daemon uses. */
function yamlConfig(extraQueue = '', dayLine = 'rollover: "03:00", leftovers: cancel'): CenterConfig {
  const text = `
version: 1
center:
  id: test-center
  name: {ar: مركز الاختبار}
  timezone: Africa/Cairo
  day: {${dayLine}}
queue:
  estimate: {defaultServiceMinutes: 4}
${extraQueue}
services:
  - {id: intake, name: {ar: تقديم}, prefix: A, first: 1, last: 5, priority: true}
  - {id: treasury, name: {ar: خزينة}, prefix: B, first: 1, last: 5}
windows:
  - {number: 1, kind: intake, services: [intake]}
  - {number: 5, kind: treasury, services: [treasury]}
`;
  const { config, problems } = checkCenterText(text, 'test.yaml');
  if (!config) throw new Error(problems.map(formatProblem).join('\n'));
  return config;
}

/** Local Cairo wall-clock time in January (UTC+2, no DST) → ms. */
const T = (hhmm: string, date = '2024-01-15'): number => Date.parse(`${date}T${hhmm}:00+02:00`);
const MIN = 60_000;

type Result = RunResult;
type OkResult = Extract<Result, { ok: true }>;

class Hub {
  readonly engine: Engine;
  /** Every stamped event, in order, as a store would keep them. */
  readonly log: StoredEvent[] = [];

  constructor(readonly config: CenterConfig = exampleConfig()) {
    this.engine = new Engine(config);
  }

  run(cmd: Command, now: number): Result {
    return runStep(this.engine, cmd, now, this.log);
  }

  ok(cmd: Command, now: number): OkResult {
    const r = this.run(cmd, now);
    if (!r.ok) throw new Error(`${cmd.type} refused: ${r.error.code}: ${r.error.message}`);
    return r;
  }

  issue(service: string, now: number, extra: { priority?: string; source?: string; id?: string } = {}): Ticket {
    const r = this.ok({ type: 'issue', service, ...extra }, now);
    return this.engine.state.tickets[r.ticket!]!;
  }

  /** Presses "next" at a window; the ticket now called there, if any. */
  next(window: number, now: number): Ticket | undefined {
    const r = this.ok({ type: 'next', window }, now);
    return r.ticket ? this.engine.state.tickets[r.ticket] : undefined;
  }

  /** The number each "next" calls, one a minute from `from`. */
  callSequence(window: number, count: number, from: number): (string | undefined)[] {
    const out: (string | undefined)[] = [];
    for (let i = 0; i < count; i++) out.push(this.next(window, from + i * MIN)?.number);
    return out;
  }

  t(ref: string): Ticket {
    const t = this.engine.ticket(ref);
    if (!t) throw new Error(`no ticket ${ref}`);
    return t;
  }

  /** The number shown at a window, or undefined when it is idle. */
  at(window: number): string | undefined {
    const cur = this.engine.window(window).current;
    return cur ? this.engine.state.tickets[cur]?.number : undefined;
  }

  /** A refused command: its typed code, and not one bit of the state changed. */
  refuses(cmd: Command, now: number, code: ErrorCode): void {
    const before = JSON.stringify(this.engine.state);
    const r = this.run(cmd, now);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(code);
    expect(r.error.name).toBe('EngineError');
    expect(r.error.message.length).toBeGreaterThan(0);
    expect(JSON.stringify(this.engine.state)).toBe(before);
  }

  activeNumbers(): string[] {
    return Object.values(this.engine.state.tickets)
      .filter((t) => ACTIVE.has(t.status))
      .map((t) => t.number);
  }
}

const eventsOf = (r: OkResult, type: QueueEvent['type']) => (r.stamped ?? []).filter((e) => e.type === type);

// ------------------------------------------------------------------ issuing

describe('issuing tickets', () => {
  it('numbers each service with its prefix and a zero-padded sequence', () => {
    const h = new Hub();
    expect(h.issue('intake', T('08:00')).number).toBe('A001');
    expect(h.issue('intake', T('08:01')).number).toBe('A002');
    expect(h.issue('treasury', T('08:02')).number).toBe('B001');
    expect(h.issue('delivery', T('08:03')).number).toBe('C001');
    expect(h.issue('intake', T('08:04')).number).toBe('A003');
    const a3 = h.t('A003');
    expect(a3).toMatchObject({ service: 'intake', day: '2024-01-15', n: 3, status: 'waiting' });
  });

  it('pads to the width of the last number (five digits for 99999)', () => {
    const h = new Hub(exampleConfig((c) => (c.services[0]!.last = 99999)));
    expect(h.issue('intake', T('08:00')).number).toBe('A00001');
  });

  it('restarts numbering on each business day', () => {
    const h = new Hub();
    h.issue('intake', T('09:00'));
    h.issue('intake', T('10:00'));
    expect(h.issue('treasury', T('11:00')).number).toBe('B001');
    const tomorrow = h.issue('intake', T('08:00', '2024-01-16'));
    expect(tomorrow.number).toBe('A001');
    expect(tomorrow.day).toBe('2024-01-16');
    expect(h.issue('treasury', T('08:01', '2024-01-16')).number).toBe('B001');
  });

  it('prints how many are ahead and the expected wait from the default service minutes when nothing was served yet', () => {
    const h = new Hub(); // defaultServiceMinutes: 6, every window closed
    expect(h.issue('intake', T('08:00'))).toMatchObject({ ahead: 0, expectedWaitMin: 0 });
    expect(h.issue('intake', T('08:01'))).toMatchObject({ ahead: 1, expectedWaitMin: 6 });
    expect(h.issue('intake', T('08:02'))).toMatchObject({ ahead: 2, expectedWaitMin: 12 });
    // Two intake windows open: the wait halves.
    h.ok({ type: 'open', window: 1 }, T('08:03'));
    h.ok({ type: 'open', window: 2 }, T('08:03'));
    expect(h.issue('intake', T('08:04'))).toMatchObject({ ahead: 3, expectedWaitMin: 9 });
    // A window that does not serve intake does not help.
    h.ok({ type: 'open', window: 5 }, T('08:05'));
    expect(h.issue('intake', T('08:06'))).toMatchObject({ ahead: 4, expectedWaitMin: 12 });
    // Other services' queues do not count.
    expect(h.issue('treasury', T('08:07'))).toMatchObject({ ahead: 0, expectedWaitMin: 0 });
  });

  it('bases the expected wait on recent service times and the number of open windows', () => {
    const h = new Hub();
    h.next(1, T('09:00')); // opens window 1, nobody waits yet
    h.issue('intake', T('09:00'));
    expect(h.next(1, T('09:01'))?.number).toBe('A001');
    h.ok({ type: 'finish', window: 1 }, T('09:11')); // 10 minutes
    h.issue('intake', T('09:12'));
    expect(h.next(1, T('09:12'))?.number).toBe('A002');
    h.ok({ type: 'finish', window: 1 }, T('09:32')); // 20 minutes
    expect(h.engine.serviceMinutes('intake')).toBe(15);
    expect(h.issue('intake', T('09:33'))).toMatchObject({ ahead: 0, expectedWaitMin: 0 });
    expect(h.issue('intake', T('09:34'))).toMatchObject({ ahead: 1, expectedWaitMin: 15 });
    expect(h.issue('intake', T('09:35'))).toMatchObject({ ahead: 2, expectedWaitMin: 30 });
    h.ok({ type: 'open', window: 2 }, T('09:36'));
    expect(h.issue('intake', T('09:37'))).toMatchObject({ ahead: 3, expectedWaitMin: 23 }); // 3 × 15 / 2 = 22.5
    // Treasury has no samples: still its default.
    expect(h.engine.serviceMinutes('treasury')).toBe(6);
  });

  it('keeps only the configured number of recent samples', () => {
    const h = new Hub(exampleConfig((c) => (c.queue.estimate.samples = 2)));
    const serve = (minutes: number, start: number) => {
      h.issue('intake', start);
      h.next(1, start);
      h.ok({ type: 'finish', window: 1 }, start + minutes * MIN);
    };
    serve(30, T('09:00'));
    serve(2, T('10:00'));
    serve(4, T('11:00'));
    expect(h.engine.serviceMinutes('intake')).toBe(3); // the 30-minute visit is forgotten
  });

  it('counts only priority tickets ahead of a priority ticket', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.issue('intake', T('08:01'));
    h.issue('intake', T('08:02'), { priority: 'elderly' });
    expect(h.issue('intake', T('08:03'), { priority: 'elderly' })).toMatchObject({ ahead: 1, priority: 'elderly' });
    expect(h.issue('intake', T('08:04'))).toMatchObject({ ahead: 4 });
  });

  it('gives the same ticket to a retried press (same source and id) without new events', () => {
    const h = new Hub();
    const first = h.ok({ type: 'issue', service: 'intake', source: 'disp-1', id: 'boot7-41' }, T('08:00'));
    const before = JSON.stringify(h.engine.state);
    const again = h.ok({ type: 'issue', service: 'intake', source: 'disp-1', id: 'boot7-41' }, T('08:00') + 5_000);
    expect(again.duplicate).toBe(true);
    expect(again.ticket).toBe(first.ticket);
    expect(again.events).toEqual([]);
    expect(again.stamped).toEqual([]);
    expect(JSON.stringify(h.engine.state)).toBe(before);
    expect(h.t('A001').device).toBe('disp-1');
    // A new press (new id) and the same id from another dispenser are new tickets.
    expect(h.issue('intake', T('08:01'), { source: 'disp-1', id: 'boot7-42' }).number).toBe('A002');
    expect(h.issue('intake', T('08:01'), { source: 'disp-2', id: 'boot7-41' }).number).toBe('A003');
  });

  it('remembers a command id for the business day however the wall clock steps, and forgets it after the rollover', () => {
    const h = new Hub();
    const first = h.issue('intake', T('08:00'), { source: 'disp-1', id: '1' });
    // The clock stepped an hour forward, then an hour back (NTP after boot): still the same press.
    for (const at of [T('08:00') + 3600_000, T('08:00') - 3600_000, T('08:00') + DEDUPE_MS + 1]) {
      const again = h.ok({ type: 'issue', service: 'intake', source: 'disp-1', id: '1' }, at);
      expect(again.duplicate).toBe(true);
      expect(again.ticket).toBe(first.id);
    }
    // The next business day the id is a new press (device ids carry a boot nonce; this is a new boot).
    const tomorrow = h.ok({ type: 'issue', service: 'intake', source: 'disp-1', id: '1' }, T('09:00', '2024-01-16'));
    expect(tomorrow.duplicate).toBe(false);
    expect(h.engine.state.tickets[tomorrow.ticket!]!.number).toBe('A001');
  });

  it('a retried "next" from a keypad does not skip a citizen', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.issue('intake', T('08:01'));
    const first = h.ok({ type: 'next', window: 1, source: 'kp-1', id: 'n1' }, T('09:00'));
    const retry = h.ok({ type: 'next', window: 1, source: 'kp-1', id: 'n1' }, T('09:00') + 2_000);
    expect(retry.duplicate).toBe(true);
    expect(retry.ticket).toBe(first.ticket);
    expect(h.at(1)).toBe('A001');
    expect(h.t('A002').status).toBe('waiting');
  });

  it('wraps around after the last number back to the first, skipping numbers still in use', () => {
    const h = new Hub(exampleConfig((c) => (c.services[0]!.last = 5)));
    for (let i = 0; i < 5; i++) h.issue('intake', T('08:00') + i * MIN);
    expect(h.activeNumbers()).toEqual(['A001', 'A002', 'A003', 'A004', 'A005']);
    h.ok({ type: 'cancel', ticket: 'A001' }, T('08:10'));
    h.ok({ type: 'cancel', ticket: 'A003' }, T('08:10'));
    const wrapped = h.issue('intake', T('08:11'));
    expect(wrapped.number).toBe('A001');
    expect(wrapped.n).toBe(1);
    expect(h.issue('intake', T('08:12')).number).toBe('A003'); // A002 still waits
    h.refuses({ type: 'issue', service: 'intake' }, T('08:13'), 'numbers_exhausted');
  });

  it('answers numbers_exhausted when every number of a service is in use, and other services still issue', () => {
    const h = new Hub(yamlConfig());
    for (let i = 0; i < 5; i++) h.issue('intake', T('08:00') + i * MIN);
    h.next(1, T('08:10')); // A001 at the window is still in use
    h.ok({ type: 'park', window: 1 }, T('08:11')); // parked is still in use
    h.refuses({ type: 'issue', service: 'intake' }, T('08:12'), 'numbers_exhausted');
    expect(h.issue('treasury', T('08:13')).number).toBe('B001');
    // A finished visit frees its number.
    h.next(1, T('08:14'));
    h.ok({ type: 'finish', window: 1 }, T('08:15'));
    expect(h.issue('intake', T('08:16')).number).toBe('A002');
  });

  it('never gives a number that is still in use after its ticket moved to another service', () => {
    const h = new Hub(yamlConfig()); // intake A001–A005, transfers go to the front
    for (let i = 0; i < 5; i++) h.issue('intake', T('08:00') + i * MIN);
    h.next(1, T('08:10'));
    h.ok({ type: 'transfer', window: 1, service: 'treasury' }, T('08:11')); // A001 now waits at the treasury
    h.ok({ type: 'cancel', ticket: 'A002' }, T('08:12'));
    const wrapped = h.issue('intake', T('08:13'));
    expect(wrapped.number).toBe('A002');
    const numbers = h.activeNumbers();
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  it('refuses a priority ticket for a service without priority', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.refuses({ type: 'issue', service: 'delivery', priority: 'elderly' }, T('08:01'), 'no_priority');
    h.refuses({ type: 'issue', service: 'intake', priority: '' }, T('08:01'), 'no_priority');
    expect(h.issue('intake', T('08:02'), { priority: 'disabled' }).priority).toBe('disabled');
  });
});

// ------------------------------------------------------------------ calling

describe('calling next', () => {
  it('calls the services of a window in their listed order (pick: order)', () => {
    const h = new Hub(); // window 4: [intake, complaints], pick order
    h.issue('complaints', T('08:00'));
    h.issue('intake', T('08:05'));
    expect(h.callSequence(4, 3, T('09:00'))).toEqual(['A001', 'E001', undefined]);
  });

  it('calls the longest waiter across its services (pick: oldest)', () => {
    const h = new Hub(exampleConfig((c) => (c.windows.find((w) => w.number === 4)!.pick = 'oldest')));
    h.issue('complaints', T('08:00'));
    h.issue('intake', T('08:05'));
    h.issue('complaints', T('08:06'));
    expect(h.callSequence(4, 3, T('09:00'))).toEqual(['E001', 'A001', 'E002']);
  });

  it('is first in, first out within a service, across windows', () => {
    const h = new Hub();
    for (let i = 0; i < 4; i++) h.issue('intake', T('08:00') + i * MIN);
    expect(h.next(2, T('09:00'))?.number).toBe('A001');
    expect(h.next(1, T('09:01'))?.number).toBe('A002');
    expect(h.next(2, T('09:02'))?.number).toBe('A003');
    expect(h.next(3, T('09:03'))?.number).toBe('A004');
    expect(h.t('A001').status).toBe('done'); // window 2 finished it by calling next
  });

  it('priority rule "always": priority tickets go first, normal ones after them', () => {
    const h = new Hub(exampleConfig((c) => (c.queue.priority = { rule: 'always' })));
    h.issue('intake', T('08:00'));
    h.issue('intake', T('08:01'));
    h.issue('intake', T('08:02'), { priority: 'elderly' });
    h.issue('intake', T('08:03'));
    h.issue('intake', T('08:04'), { priority: 'elderly' });
    expect(h.callSequence(1, 6, T('09:00'))).toEqual(['A003', 'A005', 'A001', 'A002', 'A004', undefined]);
  });

  it('priority rule "interleave every N": N normal, then one priority, and neither starves', () => {
    const h = new Hub(exampleConfig((c) => (c.queue.priority = { rule: 'interleave', every: 2 })));
    h.issue('intake', T('08:00'), { priority: 'elderly' }); // A001
    h.issue('intake', T('08:01'), { priority: 'elderly' }); // A002
    h.issue('intake', T('08:02'), { priority: 'elderly' }); // A003
    for (let i = 0; i < 4; i++) h.issue('intake', T('08:10') + i * MIN); // A004–A007
    expect(h.callSequence(1, 8, T('09:00'))).toEqual(['A004', 'A005', 'A001', 'A006', 'A007', 'A002', 'A003', undefined]);
  });

  it('interleave counts across the windows of a service', () => {
    const h = new Hub(); // every 3
    h.issue('intake', T('08:00'), { priority: 'elderly' });
    for (let i = 0; i < 4; i++) h.issue('intake', T('08:10') + i * MIN);
    expect(h.next(1, T('09:00'))?.number).toBe('A002');
    expect(h.next(2, T('09:01'))?.number).toBe('A003');
    expect(h.next(3, T('09:02'))?.number).toBe('A004');
    expect(h.next(4, T('09:03'))?.number).toBe('A001');
    expect(h.next(1, T('09:04'))?.number).toBe('A005');
  });

  it('a closed window that presses next is opened by it (openOnCall)', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    expect(h.engine.window(1).status).toBe('closed');
    const r = h.ok({ type: 'next', window: 1 }, T('09:00'));
    expect(r.events.map((e) => e.type)).toEqual(['window.opened', 'ticket.called']);
    expect(h.engine.window(1).status).toBe('open');
    expect(h.at(1)).toBe('A001');
  });

  it('a paused window that presses next is opened and loses its pause reason', () => {
    const h = new Hub();
    h.ok({ type: 'open', window: 1 }, T('08:00'));
    h.ok({ type: 'pause', window: 1, reason: 'prayer' }, T('08:01'));
    h.issue('intake', T('08:02'));
    h.next(1, T('08:30'));
    expect(h.engine.window(1)).toMatchObject({ status: 'open', current: h.t('A001').id });
    expect(h.engine.window(1).reason).toBeUndefined();
  });

  it('without openOnCall a closed or paused window must be opened first', () => {
    const h = new Hub(exampleConfig((c) => (c.queue.openOnCall = false)));
    h.issue('intake', T('08:00'));
    h.refuses({ type: 'next', window: 1 }, T('09:00'), 'window_closed');
    h.ok({ type: 'open', window: 1 }, T('09:01'));
    h.ok({ type: 'pause', window: 1, reason: 'tea' }, T('09:02'));
    h.refuses({ type: 'next', window: 1 }, T('09:03'), 'window_paused');
    h.refuses({ type: 'callTicket', window: 1, ticket: 'A001' }, T('09:03'), 'window_paused');
    h.ok({ type: 'open', window: 1 }, T('09:04'));
    expect(h.next(1, T('09:05'))?.number).toBe('A001');
  });

  it('next with nobody waiting leaves the window open and idle', () => {
    const h = new Hub();
    const r = h.ok({ type: 'next', window: 1 }, T('09:00'));
    expect(r.ticket).toBeUndefined();
    expect(h.engine.window(1)).toMatchObject({ status: 'open' });
    expect(h.at(1)).toBeUndefined();
  });

  it('busyNext finish: next while a citizen is called finishes them and counts the visit', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.issue('intake', T('08:01'));
    h.next(1, T('09:00'));
    const r = h.ok({ type: 'next', window: 1 }, T('09:04'));
    expect(r.events.map((e) => e.type)).toEqual(['ticket.done', 'ticket.called']);
    expect(h.t('A001').status).toBe('done');
    expect(h.at(1)).toBe('A002');
    expect(h.engine.window(1).served).toBe(1);
  });

  it('busyNext finish records the real service time of the visit it ends', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.issue('intake', T('08:01'));
    h.next(1, T('10:00'));
    h.ok({ type: 'start', window: 1 }, T('10:02'));
    const r = h.ok({ type: 'next', window: 1 }, T('10:12'));
    const done = eventsOf(r, 'ticket.done')[0];
    expect(done).toMatchObject({ number: 'A001', serviceMs: 10 * MIN });
    expect(h.engine.serviceMinutes('intake')).toBe(10);
  });

  it('busyNext called: noShow marks the called citizen absent', () => {
    const h = new Hub(exampleConfig((c) => (c.queue.busyNext.called = 'noShow')));
    h.issue('intake', T('08:00'));
    h.issue('intake', T('08:01'));
    h.next(1, T('09:00'));
    h.next(1, T('09:02'));
    expect(h.t('A001').status).toBe('noShow');
    expect(h.engine.window(1).served).toBe(0);
    expect(h.at(1)).toBe('A002');
    // A citizen being served is finished, not marked absent.
    h.ok({ type: 'start', window: 1 }, T('09:03'));
    h.issue('intake', T('09:04'));
    h.next(1, T('09:10'));
    expect(h.t('A002').status).toBe('done');
  });

  it('busyNext reject: next is refused while the window has a citizen, and nothing changes', () => {
    const h = new Hub(exampleConfig((c) => (c.queue.busyNext = { called: 'reject', serving: 'reject' })));
    h.issue('intake', T('08:00'));
    h.issue('intake', T('08:01'));
    h.next(1, T('09:00'));
    h.refuses({ type: 'next', window: 1 }, T('09:01'), 'window_busy');
    h.refuses({ type: 'callTicket', window: 1, ticket: 'A002' }, T('09:01'), 'window_busy');
    h.ok({ type: 'start', window: 1 }, T('09:02'));
    h.refuses({ type: 'next', window: 1 }, T('09:03'), 'window_busy');
    h.ok({ type: 'finish', window: 1 }, T('09:04'));
    expect(h.next(1, T('09:05'))?.number).toBe('A002');
  });

  it('busyNext serving reject only applies once the citizen is being served', () => {
    const h = new Hub(exampleConfig((c) => (c.queue.busyNext = { called: 'finish', serving: 'reject' })));
    h.issue('intake', T('08:00'));
    h.issue('intake', T('08:01'));
    h.issue('intake', T('08:02'));
    h.next(1, T('09:00'));
    expect(h.next(1, T('09:01'))?.number).toBe('A002'); // A001 was only called: finished
    h.ok({ type: 'start', window: 1 }, T('09:02'));
    h.refuses({ type: 'next', window: 1 }, T('09:03'), 'window_busy');
  });
});

// ------------------------------------------------------------------ at the window

describe('at the window', () => {
  it('recall calls the same citizen again and counts the recalls', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.next(1, T('09:00'));
    const r1 = h.ok({ type: 'recall', window: 1 }, T('09:01'));
    const r2 = h.ok({ type: 'recall', window: 1 }, T('09:02'));
    expect(r1.events).toHaveLength(1);
    expect(r1.events[0]).toMatchObject({ type: 'ticket.recalled', ticket: h.t('A001').id, number: 'A001', service: 'intake', window: 1, count: 1 });
    expect(eventsOf(r2, 'ticket.recalled')[0]).toMatchObject({ count: 2 });
    expect(h.t('A001')).toMatchObject({ status: 'called', window: 1, recalls: 2 });
    expect(h.at(1)).toBe('A001');
    // Called again after a no-show and a return, the recalls count from one again.
    h.ok({ type: 'noShow', window: 1 }, T('09:03'));
    h.ok({ type: 'returnNoShow', ticket: 'A001' }, T('09:05'));
    h.next(2, T('09:06'));
    expect(h.t('A001')).toMatchObject({ status: 'called', window: 2, recalls: 0 });
    expect(h.ok({ type: 'recall', window: 2 }, T('09:07')).events[0]).toMatchObject({ count: 1 });
  });

  it('start moves a called citizen to serving; starting again is wrong_state', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.next(1, T('09:00'));
    expect(h.t('A001').status).toBe('called');
    h.ok({ type: 'start', window: 1 }, T('09:01'));
    expect(h.t('A001')).toMatchObject({ status: 'serving', servingAt: T('09:01') });
    h.refuses({ type: 'start', window: 1 }, T('09:02'), 'wrong_state');
  });

  it('finish ends the visit, frees the window and counts the service time from the start', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.next(1, T('09:00'));
    h.ok({ type: 'start', window: 1 }, T('09:03'));
    const r = h.ok({ type: 'finish', window: 1 }, T('09:10'));
    expect(r.events[0]).toMatchObject({ type: 'ticket.done', number: 'A001', service: 'intake', window: 1, serviceMs: 7 * MIN });
    expect(h.t('A001')).toMatchObject({ status: 'done', endedAt: T('09:10') });
    expect(h.at(1)).toBeUndefined();
    expect(h.engine.window(1)).toMatchObject({ status: 'open', served: 1 });
    h.refuses({ type: 'finish', window: 1 }, T('09:11'), 'window_idle');
  });

  it('finish without start counts the time from the call', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.next(1, T('09:00'));
    const r = h.ok({ type: 'finish', window: 1 }, T('09:04'));
    expect(r.events[0]).toMatchObject({ serviceMs: 4 * MIN });
  });

  it('noShow frees the window; a citizen being served cannot be a no-show', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.issue('intake', T('08:01'));
    h.next(1, T('09:00'));
    h.ok({ type: 'noShow', window: 1 }, T('09:02'));
    expect(h.t('A001')).toMatchObject({ status: 'noShow', endedAt: T('09:02') });
    expect(h.at(1)).toBeUndefined();
    expect(h.engine.window(1).served).toBe(0);
    h.next(1, T('09:03'));
    h.ok({ type: 'start', window: 1 }, T('09:04'));
    h.refuses({ type: 'noShow', window: 1 }, T('09:05'), 'wrong_state');
  });

  it('a no-show returned within the grace time goes to the front of the queue', () => {
    const h = new Hub(); // noShowReturn: front, grace 15
    for (let i = 0; i < 3; i++) h.issue('intake', T('08:00') + i * MIN);
    h.next(1, T('09:00'));
    h.ok({ type: 'noShow', window: 1 }, T('09:01'));
    h.ok({ type: 'returnNoShow', ticket: 'A001' }, T('09:16')); // exactly 15 minutes
    expect(h.t('A001').status).toBe('waiting');
    expect(h.t('A001').endedAt).toBeUndefined();
    expect(h.callSequence(2, 4, T('09:20'))).toEqual(['A001', 'A002', 'A003', undefined]);
  });

  it('a no-show returned to the back waits behind everyone already waiting', () => {
    const h = new Hub(exampleConfig((c) => (c.queue.noShowReturn = 'back')));
    for (let i = 0; i < 3; i++) h.issue('intake', T('08:00') + i * MIN);
    h.next(1, T('09:00'));
    h.ok({ type: 'noShow', window: 1 }, T('09:01'));
    h.ok({ type: 'returnNoShow', ticket: 'a001' }, T('09:05')); // numbers are not case-sensitive
    h.issue('intake', T('09:06'));
    expect(h.callSequence(2, 4, T('09:20'))).toEqual(['A002', 'A003', 'A001', 'A004']);
  });

  it('a no-show cannot return after the grace time', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.next(1, T('09:00'));
    h.ok({ type: 'noShow', window: 1 }, T('09:01'));
    h.refuses({ type: 'returnNoShow', ticket: 'A001' }, T('09:16') + 1, 'grace_expired');
    expect(h.t('A001').status).toBe('noShow');
  });
});

// ------------------------------------------------------------------ transfers

describe('transfer', () => {
  it('moves the citizen to another service keeping the number, at the front by default', () => {
    const h = new Hub(); // transferPosition: front
    h.issue('intake', T('08:00'));
    h.issue('treasury', T('08:01'));
    h.issue('treasury', T('08:02'));
    h.next(1, T('09:00'));
    const r = h.ok({ type: 'transfer', window: 1, service: 'treasury' }, T('09:10'));
    expect(r.events[0]).toMatchObject({ type: 'ticket.transferred', number: 'A001', from: 'intake', to: 'treasury', position: 'front', window: 1 });
    expect(h.t('A001')).toMatchObject({ status: 'waiting', service: 'treasury', number: 'A001' });
    expect(h.at(1)).toBeUndefined();
    expect(h.callSequence(5, 4, T('09:11'))).toEqual(['A001', 'B001', 'B002', undefined]);
  });

  it('queue.transferPosition back puts the citizen behind those waiting', () => {
    const h = new Hub(exampleConfig((c) => (c.queue.transferPosition = 'back')));
    h.issue('intake', T('08:00'));
    h.issue('treasury', T('08:01'));
    h.next(1, T('09:00'));
    h.ok({ type: 'transfer', window: 1, service: 'treasury' }, T('09:10'));
    h.issue('treasury', T('09:11'));
    expect(h.callSequence(5, 3, T('09:20'))).toEqual(['B001', 'A001', 'B002']);
  });

  it("a service's transferPosition overrides the queue's, both ways", () => {
    const back = new Hub(exampleConfig((c) => (c.services.find((s) => s.id === 'treasury')!.transferPosition = 'back')));
    back.issue('intake', T('08:00'));
    back.issue('treasury', T('08:01'));
    back.next(1, T('09:00'));
    back.ok({ type: 'transfer', window: 1, service: 'treasury' }, T('09:10'));
    expect(back.callSequence(5, 2, T('09:20'))).toEqual(['B001', 'A001']);

    const front = new Hub(
      exampleConfig((c) => {
        c.queue.transferPosition = 'back';
        c.services.find((s) => s.id === 'treasury')!.transferPosition = 'front';
      }),
    );
    front.issue('intake', T('08:00'));
    front.issue('treasury', T('08:01'));
    front.next(1, T('09:00'));
    front.ok({ type: 'transfer', window: 1, service: 'treasury' }, T('09:10'));
    expect(front.callSequence(5, 2, T('09:20'))).toEqual(['A001', 'B001']);
  });

  it('several transfers to the front keep their own order, ahead of the normal queue', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.issue('intake', T('08:01'));
    h.issue('treasury', T('08:02'));
    h.next(1, T('09:00'));
    h.next(2, T('09:00'));
    h.ok({ type: 'transfer', window: 1, service: 'treasury' }, T('09:05'));
    h.ok({ type: 'transfer', window: 2, service: 'treasury' }, T('09:06'));
    expect(h.callSequence(5, 3, T('09:10'))).toEqual(['A001', 'A002', 'B001']);
  });

  it('refuses a transfer to the same service or to an unknown one', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.next(1, T('09:00'));
    h.refuses({ type: 'transfer', window: 1, service: 'intake' }, T('09:01'), 'same_service');
    h.refuses({ type: 'transfer', window: 1, service: 'passports' }, T('09:01'), 'unknown_service');
    h.refuses({ type: 'transfer', window: 2, service: 'treasury' }, T('09:01'), 'window_idle');
    expect(h.at(1)).toBe('A001');
  });
});

// ------------------------------------------------------------------ park, specific calls, backend

describe('park, resume and calling a specific citizen', () => {
  it('park frees the window; resume calls the parked citizen back', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.issue('intake', T('08:01'));
    h.next(1, T('09:00'));
    h.ok({ type: 'park', window: 1 }, T('09:05'));
    expect(h.t('A001').status).toBe('parked');
    expect(h.at(1)).toBeUndefined();
    expect(h.next(1, T('09:06'))?.number).toBe('A002'); // next does not pick parked citizens
    h.refuses({ type: 'resume', window: 1, ticket: 'A002' }, T('09:07'), 'wrong_state');
    const r = h.ok({ type: 'resume', window: 1, ticket: 'A001' }, T('09:20'));
    expect(eventsOf(r, 'ticket.called')[0]).toMatchObject({ number: 'A001', how: 'resume', window: 1 });
    expect(h.t('A002').status).toBe('done');
    expect(h.t('A001')).toMatchObject({ status: 'called', window: 1 });
    expect(h.at(1)).toBe('A001');
  });

  it('callTicket calls a specific waiting number; next then continues in order', () => {
    const h = new Hub();
    for (let i = 0; i < 3; i++) h.issue('intake', T('08:00') + i * MIN);
    const r = h.ok({ type: 'callTicket', window: 1, ticket: 'A003' }, T('09:00'));
    expect(eventsOf(r, 'ticket.called')[0]).toMatchObject({ number: 'A003', how: 'ticket' });
    expect(h.at(1)).toBe('A003');
    expect(h.callSequence(1, 2, T('09:05'))).toEqual(['A001', 'A002']);
  });

  it('callTicket refuses a number of a service the window does not serve, or one that does not exist', () => {
    const h = new Hub();
    h.issue('treasury', T('08:00'));
    h.refuses({ type: 'callTicket', window: 1, ticket: 'B001' }, T('09:00'), 'not_served_here');
    h.refuses({ type: 'callTicket', window: 1, ticket: 'A404' }, T('09:00'), 'unknown_ticket');
    expect(h.t('B001').status).toBe('waiting');
  });

  it('callInquiry calls the waiting citizen whose ticket carries that inquiry number', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.issue('intake', T('08:01'));
    h.ok({ type: 'attach', ticket: 'A002', inquiry: '778899' }, T('08:02'));
    const r = h.ok({ type: 'callInquiry', window: 1, inquiry: '778899' }, T('09:00'));
    expect(eventsOf(r, 'ticket.issued')).toEqual([]);
    expect(eventsOf(r, 'ticket.called')[0]).toMatchObject({ number: 'A002', how: 'inquiry' });
    expect(h.at(1)).toBe('A002');
  });

  it('callInquiry without a matching ticket shows the inquiry number itself at the window', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    const r = h.ok({ type: 'callInquiry', window: 9, inquiry: '4455' }, T('09:00')); // window 9: [inquiry, delivery]
    expect(r.events.map((e) => e.type)).toEqual(['window.opened', 'ticket.issued', 'ticket.called']);
    const t = h.engine.state.tickets[r.ticket!]!;
    expect(t).toMatchObject({ number: '4455', service: 'inquiry', inquiry: '4455', status: 'called', window: 9, n: 0 });
    expect(h.at(9)).toBe('4455');
    // It uses no number of the service's sequence.
    expect(h.issue('inquiry', T('09:01')).number).toBe('D001');
    h.refuses({ type: 'callInquiry', window: 9, inquiry: 'not valid!' }, T('09:02'), 'invalid_command');
  });

  it('attach stores a request id and an inquiry number on a ticket', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.ok({ type: 'attach', ticket: 'A001', requestId: 'REQ-2024/77' }, T('08:01'));
    h.ok({ type: 'attach', ticket: 'A001', inquiry: '1234' }, T('08:02'));
    expect(h.t('A001')).toMatchObject({ requestId: 'REQ-2024/77', inquiry: '1234' });
    h.refuses({ type: 'attach', ticket: 'A001' }, T('08:03'), 'invalid_command');
    h.refuses({ type: 'attach', ticket: 'A001', requestId: 'has spaces' }, T('08:03'), 'invalid_command');
    h.refuses({ type: 'attach', ticket: 'A404', requestId: 'R1' }, T('08:03'), 'unknown_ticket');
  });

  it('the backend requeues a finished intake by request id to the treasury ("fees set")', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.issue('treasury', T('08:05'));
    h.next(1, T('09:00'));
    h.ok({ type: 'attach', ticket: 'A001', requestId: 'REQ-1' }, T('09:01'));
    h.refuses({ type: 'requeue', service: 'treasury', requestId: 'REQ-1' }, T('09:02'), 'wrong_state'); // still at window 1
    h.ok({ type: 'finish', window: 1 }, T('09:10'));
    const r = h.ok({ type: 'requeue', service: 'treasury', requestId: 'REQ-1', source: 'backend', id: 'fees-1' }, T('09:30'));
    expect(r.events[0]).toMatchObject({ type: 'ticket.transferred', number: 'A001', from: 'intake', to: 'treasury', position: 'front' });
    expect(h.t('A001')).toMatchObject({ status: 'waiting', service: 'treasury' });
    expect(h.callSequence(5, 2, T('09:31'))).toEqual(['A001', 'B001']);
    h.refuses({ type: 'requeue', service: 'treasury', requestId: 'REQ-404' }, T('09:40'), 'unknown_ticket');
  });

  it('requeue refuses a ticket already waiting in that service', () => {
    const h = new Hub();
    h.issue('treasury', T('08:00'));
    h.ok({ type: 'attach', ticket: 'B001', requestId: 'R9' }, T('08:01'));
    h.refuses({ type: 'requeue', service: 'treasury', requestId: 'R9' }, T('08:02'), 'same_service');
  });
});

// ------------------------------------------------------------------ windows

describe('windows', () => {
  it('open, pause with a reason, and close', () => {
    const h = new Hub();
    h.ok({ type: 'open', window: 3 }, T('08:00'));
    expect(h.engine.window(3).status).toBe('open');
    h.ok({ type: 'pause', window: 3, reason: '  prayer  ' }, T('12:00'));
    expect(h.engine.window(3)).toMatchObject({ status: 'paused', reason: 'prayer' });
    h.ok({ type: 'open', window: 3 }, T('12:20'));
    expect(h.engine.window(3).status).toBe('open');
    expect(h.engine.window(3).reason).toBeUndefined();
    h.ok({ type: 'pause', window: 3, reason: '' }, T('13:00'));
    expect(h.engine.window(3)).toMatchObject({ status: 'paused', reason: 'break' });
    h.ok({ type: 'close', window: 3 }, T('15:00'));
    expect(h.engine.window(3).status).toBe('closed');
    h.refuses({ type: 'pause', window: 3, reason: 'tea' }, T('15:01'), 'window_closed');
  });

  it('opening an open window or closing a closed one changes nothing', () => {
    const h = new Hub();
    h.ok({ type: 'open', window: 1 }, T('08:00'));
    expect(h.ok({ type: 'open', window: 1 }, T('08:01')).events).toEqual([]);
    expect(h.ok({ type: 'close', window: 2 }, T('08:01')).events).toEqual([]);
  });

  it('a window holding a citizen cannot pause or close', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.next(1, T('09:00'));
    h.refuses({ type: 'pause', window: 1, reason: 'tea' }, T('09:01'), 'window_busy');
    h.refuses({ type: 'close', window: 1 }, T('09:01'), 'window_busy');
    h.ok({ type: 'start', window: 1 }, T('09:02'));
    h.refuses({ type: 'close', window: 1 }, T('09:03'), 'window_busy');
    h.ok({ type: 'finish', window: 1 }, T('09:04'));
    h.ok({ type: 'close', window: 1 }, T('09:05'));
    expect(h.engine.window(1).status).toBe('closed');
  });

  it('open windows shorten the printed wait; paused ones do not count', () => {
    const h = new Hub();
    for (let i = 0; i < 4; i++) h.issue('intake', T('08:00') + i * MIN);
    h.ok({ type: 'open', window: 1 }, T('08:10'));
    h.ok({ type: 'open', window: 2 }, T('08:10'));
    h.ok({ type: 'open', window: 3 }, T('08:10'));
    h.ok({ type: 'pause', window: 3, reason: 'tea' }, T('08:11'));
    expect(h.engine.windowsServing('intake')).toEqual({ open: 2, all: 4 });
    expect(h.issue('intake', T('08:12')).expectedWaitMin).toBe(12); // 4 × 6 / 2
  });
});

// ------------------------------------------------------------------ refusals

describe('every refused command has a typed code and changes nothing', () => {
  /** Day under way: A001 at window 1, A002 and B001 waiting, window 2 open and idle, window 6 closed. */
  const busyDay = (): Hub => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.issue('intake', T('08:01'));
    h.issue('treasury', T('08:02'));
    h.next(1, T('09:00'));
    h.ok({ type: 'open', window: 2 }, T('09:00'));
    return h;
  };

  const cases: [string, Command, ErrorCode][] = [
    ['next at an unknown window', { type: 'next', window: 99 }, 'unknown_window'],
    ['opening an unknown window', { type: 'open', window: 0 }, 'unknown_window'],
    ['finishing at an unknown window', { type: 'finish', window: 42 }, 'unknown_window'],
    ['issuing for an unknown service', { type: 'issue', service: 'passports' }, 'unknown_service'],
    ['priority for a service without priority', { type: 'issue', service: 'delivery', priority: 'elderly' }, 'no_priority'],
    ['finishing at an idle window', { type: 'finish', window: 2 }, 'window_idle'],
    ['recalling at an idle window', { type: 'recall', window: 2 }, 'window_idle'],
    ['starting at a closed window', { type: 'start', window: 6 }, 'window_idle'],
    ['no-show at an idle window', { type: 'noShow', window: 2 }, 'window_idle'],
    ['parking at an idle window', { type: 'park', window: 2 }, 'window_idle'],
    ['transferring from an idle window', { type: 'transfer', window: 2, service: 'treasury' }, 'window_idle'],
    ['transferring to the same service', { type: 'transfer', window: 1, service: 'intake' }, 'same_service'],
    ['transferring to an unknown service', { type: 'transfer', window: 1, service: 'nope' }, 'unknown_service'],
    ['returning a ticket that is not a no-show', { type: 'returnNoShow', ticket: 'A002' }, 'wrong_state'],
    ['returning an unknown ticket', { type: 'returnNoShow', ticket: 'A999' }, 'unknown_ticket'],
    ['resuming a ticket that is not parked', { type: 'resume', window: 2, ticket: 'A002' }, 'wrong_state'],
    ['calling a ticket of another service', { type: 'callTicket', window: 2, ticket: 'B001' }, 'not_served_here'],
    ['calling a ticket already at a window', { type: 'callTicket', window: 2, ticket: 'A001' }, 'wrong_state'],
    ['calling an invalid inquiry number', { type: 'callInquiry', window: 2, inquiry: '12 34' }, 'invalid_command'],
    ['attaching nothing', { type: 'attach', ticket: 'A002' }, 'invalid_command'],
    ['requeueing an unknown request', { type: 'requeue', service: 'treasury', requestId: 'NOPE' }, 'unknown_ticket'],
    ['requeueing a ticket that is at a window', { type: 'requeue', service: 'treasury', ticket: 'A001' }, 'wrong_state'],
    ['requeueing into the service it waits for', { type: 'requeue', service: 'intake', ticket: 'A002' }, 'same_service'],
    ['cancelling a ticket at a window', { type: 'cancel', ticket: 'A001' }, 'window_busy'],
    ['pausing a window with a citizen', { type: 'pause', window: 1, reason: 'tea' }, 'window_busy'],
    ['closing a window with a citizen', { type: 'close', window: 1 }, 'window_busy'],
    ['pausing a closed window', { type: 'pause', window: 6, reason: 'tea' }, 'window_closed'],
    ['an unknown command', { type: 'teleport' } as unknown as Command, 'invalid_command'],
  ];

  it.each(cases)('%s', (_name, cmd, code) => {
    const h = busyDay();
    h.refuses(cmd, T('09:30'), code);
    h.refuses({ ...cmd, source: 'kp-2', id: 'x1' } as Command, T('09:31'), code); // a refused command is not remembered
    h.refuses({ ...cmd, source: 'kp-2', id: 'x1' } as Command, T('09:32'), code);
  });

  it('cancelling an ended ticket is wrong_state', () => {
    const h = busyDay();
    h.ok({ type: 'cancel', ticket: 'A002', reason: 'left' }, T('09:10'));
    expect(h.t('A002').status).toBe('cancelled');
    h.refuses({ type: 'cancel', ticket: 'A002' }, T('09:11'), 'wrong_state');
  });
});

// ------------------------------------------------------------------ rollover

describe('business day rollover (03:00 Africa/Cairo)', () => {
  it('the night before 03:00 still belongs to the previous day; numbering restarts at 03:00', () => {
    const h = new Hub();
    h.issue('intake', T('14:00'));
    const night = h.issue('intake', T('02:59', '2024-01-16'));
    expect(night).toMatchObject({ number: 'A002', day: '2024-01-15' });
    const morning = h.ok({ type: 'issue', service: 'intake' }, T('03:00', '2024-01-16'));
    expect(eventsOf(morning, 'day.rolled')).toEqual([expect.objectContaining({ from: '2024-01-15', to: '2024-01-16', at: T('03:00', '2024-01-16') })]);
    expect(h.engine.state.tickets[morning.ticket!]).toMatchObject({ number: 'A001', day: '2024-01-16' });
    expect(h.engine.state.day).toBe('2024-01-16');
  });

  it('leftovers "cancel": waiting, parked and no-show tickets are cancelled; citizens at windows are ended; windows close', () => {
    const h = new Hub();
    for (let i = 0; i < 5; i++) h.issue('intake', T('08:00') + i * MIN);
    h.next(1, T('09:00')); // A001 called
    h.next(2, T('09:00')); // A002 serving
    h.ok({ type: 'start', window: 2 }, T('09:01'));
    h.next(3, T('09:00')); // A003 no-show
    h.ok({ type: 'noShow', window: 3 }, T('09:02'));
    h.next(3, T('09:03')); // A004 parked
    h.ok({ type: 'park', window: 3 }, T('09:04'));
    h.ok({ type: 'pause', window: 3, reason: 'tea' }, T('09:05'));

    const r = h.ok({ type: 'issue', service: 'intake' }, T('03:00', '2024-01-16'));
    const closing = (r.stamped ?? []).filter((e) => e.day === '2024-01-15');
    const numberOf = new Map(h.log.flatMap((e) => (e.type === 'ticket.issued' ? [[e.ticket, e.number] as const] : [])));
    expect(closing.map((e) => [e.type, 'ticket' in e ? numberOf.get(e.ticket) : 'window' in e ? e.window : null])).toEqual([
      ['ticket.done', 'A001'],
      ['ticket.done', 'A002'],
      ['ticket.cancelled', 'A003'],
      ['ticket.cancelled', 'A004'],
      ['ticket.cancelled', 'A005'],
      ['window.closed', 1],
      ['window.closed', 2],
      ['window.closed', 3],
    ]);
    expect(eventsOf(r, 'ticket.done').every((e) => e.type === 'ticket.done' && e.reason === 'rollover')).toBe(true);
    for (const n of [1, 2, 3]) expect(h.engine.window(n)).toMatchObject({ status: 'closed', served: 0 });
    expect(h.engine.window(3).reason).toBeUndefined();
    // Nothing of yesterday is left; the new day starts at A001 and nobody waits before it.
    expect(h.activeNumbers()).toEqual(['A001']);
    expect(h.t('A001')).toMatchObject({ day: '2024-01-16', ahead: 0 });
    // Visits ended by the rollover are not service-time samples.
    expect(h.engine.serviceMinutes('intake')).toBe(6);
  });

  it('leftovers "carry": waiting and parked tickets keep their numbers; new tickets skip them and wait behind', () => {
    const h = new Hub(exampleConfig((c) => (c.center.day.leftovers = 'carry')));
    for (let i = 0; i < 5; i++) h.issue('intake', T('08:00') + i * MIN);
    h.next(1, T('09:00')); // A001 called → ended
    h.next(2, T('09:00')); // A002 no-show → cancelled
    h.ok({ type: 'noShow', window: 2 }, T('09:01'));
    h.next(3, T('09:02')); // A003 parked → carried
    h.ok({ type: 'park', window: 3 }, T('09:03'));
    // A004, A005 waiting → carried
    const carriedId = h.t('A004').id;

    const r = h.ok({ type: 'issue', service: 'intake' }, T('07:30', '2024-01-16'));
    expect(eventsOf(r, 'ticket.carried').map((e) => e.type === 'ticket.carried' && e.ticket)).toEqual([h.t('A003').id, carriedId, h.t('A005').id]);
    expect(h.t('A004')).toMatchObject({ id: carriedId, status: 'waiting', day: '2024-01-16' });
    expect(h.t('A003')).toMatchObject({ status: 'parked', day: '2024-01-16' });
    expect(h.engine.state.tickets[r.ticket!]!.number).toBe('A001');
    expect(h.issue('intake', T('07:31', '2024-01-16')).number).toBe('A002');
    expect(h.issue('intake', T('07:32', '2024-01-16')).number).toBe('A006'); // A003–A005 are carried
    expect(h.activeNumbers().sort()).toEqual(['A001', 'A002', 'A003', 'A004', 'A005', 'A006']);
    // Carried citizens came first: they are called first.
    expect(h.callSequence(1, 3, T('08:00', '2024-01-16'))).toEqual(['A004', 'A005', 'A001']);
    h.ok({ type: 'resume', window: 2, ticket: 'A003' }, T('08:10', '2024-01-16'));
    expect(h.at(2)).toBe('A003');
  });

  it('closes every open or paused window at rollover, and a window opens again the next morning', () => {
    const h = new Hub();
    h.ok({ type: 'open', window: 1 }, T('08:00'));
    h.ok({ type: 'open', window: 5 }, T('08:00'));
    h.ok({ type: 'pause', window: 5, reason: 'lunch' }, T('13:00'));
    h.ok({ type: 'issue', service: 'delivery' }, T('04:00', '2024-01-16'));
    expect(h.engine.window(1).status).toBe('closed');
    expect(h.engine.window(5).status).toBe('closed');
    expect(h.engine.windowsServing('intake').open).toBe(0);
    h.ok({ type: 'open', window: 1 }, T('08:00', '2024-01-16'));
    expect(h.engine.window(1).status).toBe('open');
  });

  it('rolls over once even when the hub was off for days, and forgets command ids of the old day', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'), { source: 'disp-1', id: '1' });
    const r = h.ok({ type: 'issue', service: 'intake', source: 'disp-1', id: '2' }, T('09:00', '2024-01-19'));
    expect(eventsOf(r, 'day.rolled')).toEqual([expect.objectContaining({ from: '2024-01-15', to: '2024-01-19' })]);
    expect(h.engine.state.refs['disp-1/1']).toBeUndefined();
    expect(h.engine.state.tickets[r.ticket!]!.number).toBe('A001');
  });

  it('a refused command that happens to roll the day over still reports the rollover events', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    const r = h.run({ type: 'finish', window: 1 }, T('09:00', '2024-01-16'));
    expect(r.ok).toBe(false);
    expect(h.engine.state.day).toBe('2024-01-16');
    expect((r.stamped ?? []).map((e) => e.type)).toEqual(['ticket.cancelled', 'day.rolled']);
    // So the log still rebuilds the same state.
    const replica = new Engine(h.config);
    for (const e of h.log) replica.apply(e);
    expect(JSON.stringify(replica.state)).toBe(JSON.stringify(h.engine.state));
  });
});

// ------------------------------------------------------------------ clock jumps

describe('clock jumps', () => {
  it('a clock set back a few hours neither restarts numbering nor repeats a number', () => {
    const h = new Hub();
    h.issue('intake', T('10:00'));
    h.issue('intake', T('10:01'));
    const back = h.ok({ type: 'issue', service: 'intake' }, T('07:00'));
    expect(eventsOf(back, 'day.rolled')).toEqual([]);
    expect(h.engine.state.tickets[back.ticket!]!.number).toBe('A003');
    expect(h.issue('intake', T('10:05')).number).toBe('A004');
  });

  it('a clock set back before the rollover time or by days keeps the day and the numbering', () => {
    const h = new Hub();
    h.issue('intake', T('03:30', '2024-01-16')); // day 2024-01-16
    const night = h.ok({ type: 'issue', service: 'intake' }, T('01:00', '2024-01-16')); // business day would be the 15th
    expect(h.engine.state.tickets[night.ticket!]).toMatchObject({ number: 'A002', day: '2024-01-16' });
    const weekAgo = h.ok({ type: 'issue', service: 'intake' }, T('11:00', '2024-01-09'));
    expect(h.engine.state.tickets[weekAgo.ticket!]).toMatchObject({ number: 'A003', day: '2024-01-16' });
    expect(weekAgo.stamped?.every((e) => e.day === '2024-01-16')).toBe(true);
    // The clock is fixed: still the same day, no restart.
    const fixed = h.ok({ type: 'issue', service: 'intake' }, T('11:05', '2024-01-16'));
    expect(eventsOf(fixed, 'day.rolled')).toEqual([]);
    expect(h.engine.state.tickets[fixed.ticket!]!.number).toBe('A004');
    expect(h.log.filter((e) => e.type === 'day.rolled')).toHaveLength(1);
  });

  it('a clock jumping forward to the next day rolls over once, and the day never goes back', () => {
    const h = new Hub();
    h.issue('intake', T('10:00'));
    const jump = h.ok({ type: 'issue', service: 'intake' }, T('10:05', '2024-01-16'));
    expect(eventsOf(jump, 'day.rolled')).toEqual([expect.objectContaining({ from: '2024-01-15', to: '2024-01-16' })]);
    expect(h.engine.state.tickets[jump.ticket!]!.number).toBe('A001');
    expect(h.issue('intake', T('10:06', '2024-01-16')).number).toBe('A002');
    // Back to the right time: the day stays, numbering goes on.
    const back = h.ok({ type: 'issue', service: 'intake' }, T('10:10'));
    expect(eventsOf(back, 'day.rolled')).toEqual([]);
    expect(h.engine.state.day).toBe('2024-01-16');
    expect(h.engine.state.tickets[back.ticket!]!.number).toBe('A003');
    expect(h.log.filter((e) => e.type === 'day.rolled')).toHaveLength(2); // the first start, and the jump
  });

  it('the day label of events never decreases while the clock wanders', () => {
    const h = new Hub();
    const times = [T('09:00'), T('04:00', '2024-01-17'), T('09:00'), T('23:00', '2024-01-16'), T('02:00', '2024-01-18'), T('03:00', '2024-01-18'), T('08:00', '2024-01-10')];
    times.forEach((now, i) => h.issue(i % 2 ? 'intake' : 'treasury', now));
    const days = h.log.map((e) => e.day);
    expect(days).toEqual([...days].sort());
    expect(h.log.filter((e) => e.type === 'day.rolled').map((e) => e.day)).toEqual(['2024-01-15', '2024-01-17', '2024-01-18']);
  });
});

// ------------------------------------------------------------------ figures

describe('figures', () => {
  it('adds up waits, service times and no-shows per service, window and local hour', () => {
    const h = new Hub();
    h.issue('intake', T('08:50'));
    h.issue('intake', T('08:55'));
    h.issue('treasury', T('09:00'));
    h.next(1, T('09:05')); // A001 waited 15 min
    h.ok({ type: 'start', window: 1 }, T('09:10'));
    h.ok({ type: 'finish', window: 1 }, T('09:20')); // 10 min service
    h.next(1, T('09:25')); // A002 waited 30 min
    h.ok({ type: 'noShow', window: 1 }, T('09:30'));
    h.next(5, T('10:10')); // B001 waited 70 min
    h.ok({ type: 'finish', window: 5 }, T('10:16')); // 6 min service

    const f = new Figures('Africa/Cairo');
    for (const e of h.log) f.add(e);
    const rep = f.report();
    expect(rep.byService.intake).toEqual({
      issued: 2,
      called: 2,
      waitMsTotal: 45 * MIN,
      waitMsMax: 30 * MIN,
      served: 1,
      serviceMsTotal: 10 * MIN,
      noShows: 1,
      meanWaitMin: 22.5,
      meanServiceMin: 10,
    });
    expect(rep.byService.treasury).toMatchObject({ issued: 1, called: 1, waitMsMax: 70 * MIN, served: 1, meanWaitMin: 70, meanServiceMin: 6, noShows: 0 });
    expect(Object.keys(rep.byWindow)).toEqual(['1', '5']);
    expect(rep.byWindow['1']).toMatchObject({ issued: 0, called: 2, served: 1, noShows: 1, meanWaitMin: 22.5, meanServiceMin: 10 });
    expect(rep.byWindow['5']).toMatchObject({ called: 1, served: 1, meanServiceMin: 6 });
    // Local Cairo hours (UTC+2), not UTC.
    expect(Object.keys(rep.byHour)).toEqual(['8', '9', '10']);
    expect(rep.byHour['8']).toMatchObject({ issued: 2, called: 0, meanWaitMin: null, meanServiceMin: null });
    expect(rep.byHour['9']).toMatchObject({ issued: 1, called: 2, served: 1, noShows: 1, meanWaitMin: 22.5 });
    expect(rep.byHour['10']).toMatchObject({ called: 1, served: 1, meanWaitMin: 70 });
  });

  it('does not count resumed calls, inquiry-number tickets or visits ended by the rollover', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.next(1, T('08:10'));
    h.ok({ type: 'park', window: 1 }, T('08:12'));
    h.ok({ type: 'resume', window: 1, ticket: 'A001' }, T('08:40'));
    h.ok({ type: 'finish', window: 1 }, T('08:45'));
    h.ok({ type: 'callInquiry', window: 9, inquiry: '9001' }, T('09:00'));
    h.ok({ type: 'open', window: 2 }, T('03:30', '2024-01-16')); // rollover ends 9001 at window 9

    const f = new Figures('Africa/Cairo');
    for (const e of h.log) f.add(e);
    const rep = f.report();
    expect(rep.byService.intake).toMatchObject({ issued: 1, called: 1, waitMsTotal: 10 * MIN, served: 1, serviceMsTotal: 5 * MIN });
    expect(rep.byService.inquiry).toMatchObject({ issued: 0, called: 1, served: 0 });
  });
});

// ------------------------------------------------------------------ replay

describe('replay', () => {
  it('applying the stamped events in order to a fresh engine rebuilds exactly the same state', () => {
    const h = new Hub(exampleConfig((c) => (c.center.day.leftovers = 'carry')));
    h.issue('intake', T('08:00'), { source: 'disp-1', id: 'a' });
    h.issue('intake', T('08:01'), { priority: 'elderly', source: 'disp-2', id: 'b' });
    h.issue('treasury', T('08:02'));
    h.issue('complaints', T('08:03'));
    h.issue('intake', T('08:04'));
    h.ok({ type: 'next', window: 1, source: 'kp-1', id: '1' }, T('09:00'));
    h.ok({ type: 'next', window: 1, source: 'kp-1', id: '1' }, T('09:00')); // duplicate
    h.ok({ type: 'start', window: 1 }, T('09:01'));
    h.ok({ type: 'attach', ticket: 'A001', requestId: 'REQ-1' }, T('09:02'));
    h.ok({ type: 'finish', window: 1 }, T('09:10'));
    h.ok({ type: 'requeue', service: 'treasury', requestId: 'REQ-1' }, T('09:20'));
    const absent = h.next(4, T('09:21'))!.number;
    h.ok({ type: 'noShow', window: 4 }, T('09:22'));
    h.ok({ type: 'returnNoShow', ticket: absent }, T('09:25'));
    h.next(2, T('09:30'));
    h.ok({ type: 'transfer', window: 2, service: 'complaints', position: 'back' }, T('09:31'));
    h.next(5, T('09:40'));
    h.ok({ type: 'park', window: 5 }, T('09:41'));
    h.ok({ type: 'callInquiry', window: 10, inquiry: '777' }, T('09:50'));
    h.ok({ type: 'pause', window: 1, reason: 'prayer' }, T('12:00'));
    h.run({ type: 'close', window: 10 }, T('12:01')); // refused: busy
    h.issue('intake', T('02:00', '2024-01-16'));
    h.issue('intake', T('05:00', '2024-01-16'));
    h.issue('intake', T('04:00', '2024-01-16')); // clock went back
    h.next(3, T('08:00', '2024-01-16'));
    h.ok({ type: 'cancel', ticket: 'E001' }, T('08:05', '2024-01-16'));

    const replica = new Engine(h.config);
    for (const e of h.log) replica.apply(e);
    expect(JSON.stringify(replica.state)).toBe(JSON.stringify(h.engine.state));
    expect(replica.state.day).toBe('2024-01-16');
    expect(Object.keys(replica.state.tickets).length).toBeGreaterThan(3);
  });
});

describe('retries across the rollover', () => {
  it('a press retried just after the day changed does not issue a second ticket', () => {
    const hub = new Hub(exampleConfig((c) => (c.center.day.leftovers = 'carry')));
    const first = hub.issue('intake', T('02:59', '2024-01-16'), { source: 'disp-1', id: 'boot1-9' });
    expect(first.day).toBe('2024-01-15');
    const retry = hub.ok({ type: 'issue', service: 'intake', source: 'disp-1', id: 'boot1-9' }, T('03:01', '2024-01-16'));
    expect(retry.duplicate).toBe(true);
    expect(retry.ticket).toBe(first.id);
    // The next real press starts the new day's numbering, skipping A001 that was carried over and still waits.
    expect(hub.issue('intake', T('03:02', '2024-01-16'), { source: 'disp-1', id: 'boot1-10' }).number).toBe('A002');
  });
});

describe('retries across the rollover, when leftovers are cancelled', () => {
  it('a retried press whose ticket the rollover cancelled gets a new ticket of the new day', () => {
    const hub = new Hub(exampleConfig((c) => (c.center.day.leftovers = 'cancel')));
    const first = hub.issue('intake', T('02:59', '2024-01-16'), { source: 'disp-1', id: 'boot1-9' });
    const retry = hub.ok({ type: 'issue', service: 'intake', source: 'disp-1', id: 'boot1-9' }, T('03:01', '2024-01-16'));
    expect(retry.duplicate).toBeFalsy();
    const t = hub.engine.state.tickets[retry.ticket!]!;
    expect(t.day).toBe('2024-01-16');
    expect(t.number).toBe('A001');
    expect(t.id).not.toBe(first.id);
  });
});

describe('your turn is near (queue.nearAhead)', () => {
  it('tells the backend once per queue when a linked ticket has nearAhead or fewer before it', () => {
    const h = new Hub(exampleConfig((c) => (c.queue.nearAhead = 2)));
    for (let i = 0; i < 6; i++) h.issue('intake', T('08:00') + i * MIN);
    h.ok({ type: 'attach', ticket: 'A005', requestId: 'REQ-5' }, T('08:10'));
    h.ok({ type: 'attach', ticket: 'A006', requestId: 'REQ-6' }, T('08:10'));
    const nearOf = () => h.log.filter((e) => e.type === 'ticket.near').map((e) => `${(e as { number: string }).number}:${(e as { ahead: number }).ahead}`);
    h.next(1, T('09:00')); // A001 called: A005 has 3 ahead
    h.next(1, T('09:05')); // A002: A005 has 2 ahead
    expect(nearOf()).toEqual(['A005:2']);
    const retry = h.ok({ type: 'next', window: 1, source: 'kp-1', id: 'n3' }, T('09:10')); // A003: A005 1 ahead, A006 2 ahead
    expect(nearOf()).toEqual(['A005:2', 'A006:2']);
    // The near event carries no command ref: a retried "next" still answers with its own ticket.
    expect(h.ok({ type: 'next', window: 1, source: 'kp-1', id: 'n3' }, T('09:11')).ticket).toBe(retry.ticket);
    h.next(1, T('09:15'));
    expect(nearOf()).toHaveLength(2); // once per ticket and queue
    // Sent on to the treasury, it is near again there.
    h.next(1, T('09:20')); // A005 at window 1
    h.ok({ type: 'transfer', window: 1, service: 'treasury' }, T('09:25'));
    expect(nearOf()).toEqual(['A005:2', 'A006:2', 'A005:0']);
    const near = h.log.find((e) => e.type === 'ticket.near')!;
    expect(near).toMatchObject({ service: 'intake', requestId: 'REQ-5', ticket: h.t('A005').id });
    expect(near.ref).toBeUndefined();
  });
});

describe('inquiry numbers never pose as ticket numbers', () => {
  it('refuses to call or queue an inquiry number that is the number of a ticket in use', () => {
    const h = new Hub();
    h.issue('intake', T('08:00'));
    h.refuses({ type: 'callInquiry', window: 7, inquiry: 'A001' }, T('08:05'), 'invalid_command');
    h.refuses({ type: 'enqueueInquiry', service: 'delivery', inquiry: 'A001' }, T('08:05'), 'invalid_command');
    // A real inquiry number is fine, and so is the number of a finished ticket.
    expect(h.ok({ type: 'enqueueInquiry', service: 'delivery', inquiry: '2026-88412' }, T('08:06')).events.map((e) => e.type)).toEqual(['ticket.issued']);
  });
});
