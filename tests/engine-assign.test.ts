/**
 * `assign`: which services a window calls, decided at run time (window 2, an
 * intake window of the example center, covers the treasury for an absent
 * colleague). What its keypad's "next" calls, the waits printed on tickets,
 * a restart of the real Core on a SQLite file, the rollover, refusals, and
 * the log replaying into the same state. Also the engine's command table.
 */
import Database from 'better-sqlite3';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCenter } from '../config/load.js';
import type { CenterConfig } from '../config/schema.js';
import { Core, STATE_VERSION } from '../daemon/core/core.js';
import { DECIDERS } from '../daemon/engine/commands/index.js';
import { Engine } from '../daemon/engine/engine.js';
import type { Command, ErrorCode, StoredEvent, Ticket } from '../contract/queue.js';
import { runStep, type RunResult } from './helpers/engine-run.js';

const EXAMPLE_CONFIG = new URL('../config/center.example.yaml', import.meta.url).pathname;
/** Cairo local time in January (UTC+2) → ms. */
const T = (hhmm: string, date = '2026-01-12'): number => Date.parse(`${date}T${hhmm}:00+02:00`);
const MIN = 60_000;

function example(edit?: (c: CenterConfig) => void): CenterConfig {
  const c = structuredClone(loadCenter(EXAMPLE_CONFIG, { QHUB_SUPERVISOR_SECRET: 'supervisor-secret-1' }).config);
  edit?.(c);
  return c;
}

/** The pure engine driven through Engine.step, with its log kept as a store would (runStep also checks the indexes after every step). */
class Center {
  readonly engine: Engine;
  readonly log: StoredEvent[] = [];
  constructor(readonly config: CenterConfig = example()) {
    this.engine = new Engine(config);
  }
  run(cmd: Command, now: number): RunResult {
    return runStep(this.engine, cmd, now, this.log);
  }
  ok(cmd: Command, now: number): Extract<RunResult, { ok: true }> {
    const r = this.run(cmd, now);
    if (!r.ok) throw new Error(`${cmd.type} refused: ${r.error.code}: ${r.error.message}`);
    return r;
  }
  issue(service: string, now: number): Ticket {
    return this.engine.state.tickets[this.ok({ type: 'issue', service }, now).ticket!]!;
  }
  next(window: number, now: number): string | undefined {
    const r = this.ok({ type: 'next', window }, now);
    return r.ticket ? this.engine.state.tickets[r.ticket]!.number : undefined;
  }
  /** Refused with this code, and nothing in the state changed. */
  refuses(cmd: Command, now: number, code: ErrorCode): string {
    const before = JSON.stringify(this.engine.state);
    const r = this.run(cmd, now);
    if (r.ok) throw new Error(`${JSON.stringify(cmd)} was accepted`);
    expect(r.error.code).toBe(code);
    expect(JSON.stringify(this.engine.state)).toBe(before);
    return r.error.message;
  }
}

describe('assign: window 2 takes the treasury at run time', () => {
  it('its "next" calls treasury tickets, in the assigned order, and no longer intake ones', () => {
    const c = new Center();
    c.issue('intake', T('08:00'));
    c.issue('treasury', T('08:01'));
    c.issue('treasury', T('08:02'));
    expect(c.engine.servicesOf(2)).toEqual(['intake']);
    const r = c.ok({ type: 'assign', window: 2, services: ['treasury'], source: 'supervisor', id: 'as-1' }, T('08:05'));
    expect(r.events).toMatchObject([{ type: 'window.assigned', window: 2, services: ['treasury'], source: 'supervisor', ref: 'supervisor/as-1' }]);
    expect(c.engine.servicesOf(2)).toEqual(['treasury']);
    expect(c.engine.windowsOf('treasury')).toEqual([2, 5, 6]);
    expect(c.engine.windowsOf('intake')).toEqual([1, 3, 4]);
    expect(c.engine.waitingFor(2)).toBe(2); // the keypad shows the treasury's queue
    expect(c.next(2, T('08:10'))).toBe('B001');
    expect(c.next(2, T('08:11'))).toBe('B002');
    expect(c.next(2, T('08:12'))).toBeUndefined(); // A001 still waits for an intake window
    expect(c.next(1, T('08:13'))).toBe('A001');

    // Both, treasury first: the pick order is the assigned order.
    c.issue('intake', T('08:20'));
    c.issue('treasury', T('08:21'));
    c.ok({ type: 'assign', window: 2, services: ['treasury', 'intake'] }, T('08:22'));
    expect(c.next(2, T('08:23'))).toBe('B003');
    expect(c.next(2, T('08:24'))).toBe('A002');
  });

  it('calling a ticket by number and calling an inquiry number follow the assignment', () => {
    const c = new Center();
    c.issue('intake', T('08:00'));
    c.issue('treasury', T('08:01'));
    c.ok({ type: 'assign', window: 2, services: ['treasury'] }, T('08:02'));
    c.refuses({ type: 'callTicket', window: 2, ticket: 'A001' }, T('08:03'), 'not_served_here');
    expect(c.ok({ type: 'callTicket', window: 2, ticket: 'B001' }, T('08:04')).ticket).toBe(c.engine.ticket('B001')!.id);
    // An inquiry number with no ticket is queued in the window's first service now.
    const r = c.ok({ type: 'callInquiry', window: 2, inquiry: '2026-41' }, T('08:05'));
    expect(c.engine.state.tickets[r.ticket!]).toMatchObject({ service: 'treasury', number: '2026-41', status: 'called', window: 2 });
  });

  it('the waits printed on tickets count the windows that call a service now', () => {
    const c = new Center();
    c.ok({ type: 'open', window: 5 }, T('08:00'));
    c.ok({ type: 'open', window: 2 }, T('08:00'));
    for (let i = 0; i < 4; i++) c.issue('treasury', T('08:01') + i * 1000);
    // 4 ahead × 6 default minutes, one open treasury window (5).
    expect(c.issue('treasury', T('08:02')).expectedWaitMin).toBe(24);
    expect(c.engine.expectedWait('intake', 4)).toBe(24); // window 2 open for intake
    c.ok({ type: 'assign', window: 2, services: ['treasury'] }, T('08:03'));
    // 5 ahead now, two open treasury windows (2 and 5): round(5 × 6 / 2).
    expect(c.issue('treasury', T('08:04')).expectedWaitMin).toBe(15);
    expect(c.engine.windowsServing('treasury')).toEqual({ open: 2, all: 3 });
    expect(c.engine.windowsServing('intake')).toEqual({ open: 0, all: 3 });
  });

  it('the citizen at the window when it is reassigned stays there, and can be finished or sent on', () => {
    const c = new Center();
    c.issue('intake', T('08:00'));
    c.issue('treasury', T('08:01'));
    expect(c.next(2, T('08:02'))).toBe('A001');
    c.ok({ type: 'assign', window: 2, services: ['treasury'] }, T('08:03'));
    expect(c.engine.window(2).current).toBe(c.engine.ticket('A001')!.id);
    expect(c.engine.ticket('A001')).toMatchObject({ status: 'called', window: 2, service: 'intake' });
    c.ok({ type: 'start', window: 2 }, T('08:04'));
    // The next "next" finishes A001 (busyNext: finish) and calls the treasury.
    expect(c.next(2, T('08:10'))).toBe('B001');
    expect(c.engine.ticket('A001')!.status).toBe('done');
  });

  it('assigning what the window already calls records nothing', () => {
    const c = new Center();
    expect(c.ok({ type: 'assign', window: 2, services: ['intake'] }, T('08:00')).events).toEqual([]); // the config's list
    c.ok({ type: 'assign', window: 4, services: ['complaints', 'intake'] }, T('08:01'));
    const again = c.ok({ type: 'assign', window: 4, services: ['complaints', 'intake'] }, T('08:02'));
    expect(again.events).toEqual([]);
    expect(c.log.filter((e) => e.type === 'window.assigned')).toHaveLength(1);
  });

  it('refuses an unknown window or service, an empty list and a service named twice, changing nothing', () => {
    const c = new Center();
    c.ok({ type: 'open', window: 1 }, T('07:59')); // the day has started
    c.refuses({ type: 'assign', window: 99, services: ['treasury'] }, T('08:00'), 'unknown_window');
    expect(c.refuses({ type: 'assign', window: 2, services: ['treasury', 'passports'] }, T('08:00'), 'unknown_service')).toMatch(/passports/);
    c.refuses({ type: 'assign', window: 2, services: [] }, T('08:00'), 'invalid_command');
    expect(c.refuses({ type: 'assign', window: 2, services: ['treasury', 'intake', 'treasury'] }, T('08:00'), 'invalid_command')).toMatch(/treasury.*twice/);
    c.refuses({ type: 'assign', window: 2, services: 'treasury' } as unknown as Command, T('08:00'), 'invalid_command');
    c.refuses({ type: 'assign', window: 2 } as unknown as Command, T('08:00'), 'invalid_command');
    expect(c.engine.servicesOf(2)).toEqual(['intake']);
  });

  it('survives the rollover, and the log replays into the same state', () => {
    const c = new Center(example((x) => (x.center.day.leftovers = 'carry')));
    c.issue('treasury', T('08:00'));
    c.ok({ type: 'assign', window: 2, services: ['treasury', 'complaints'] }, T('08:01'));
    c.issue('complaints', T('08:02'));
    expect(c.next(2, T('08:03'))).toBe('B001');
    c.issue('treasury', T('09:00'));
    // Next morning: the day rolled over (B002 carried), window 2 still calls the treasury first.
    c.issue('treasury', T('08:00', '2026-01-13'));
    expect(c.log.some((e) => e.type === 'day.rolled' && e.to === '2026-01-13')).toBe(true);
    expect(c.engine.servicesOf(2)).toEqual(['treasury', 'complaints']);
    expect(c.next(2, T('08:05', '2026-01-13'))).toBe('B002');
    expect(c.next(2, T('08:06', '2026-01-13'))).toBe('B001'); // the new day's first treasury number
    expect(c.next(2, T('08:07', '2026-01-13'))).toBe('E001'); // carried over too

    const replica = new Engine(c.config);
    for (const e of c.log) replica.apply(e);
    expect(JSON.stringify(replica.state)).toBe(JSON.stringify(c.engine.state));
    expect(replica.servicesOf(2)).toEqual(['treasury', 'complaints']);
    expect(replica.indexesAgree()).toBe(true);
  });

  it('reads around services the config no longer has, and falls back to the config when none is left', () => {
    const c = new Center();
    c.ok({ type: 'assign', window: 2, services: ['treasury', 'complaints'] }, T('08:00'));
    c.ok({ type: 'assign', window: 3, services: ['treasury'] }, T('08:00'));
    // The technician removes the treasury from the config and restarts: the log is replayed as it is.
    const without = example((x) => {
      x.services = x.services.filter((s) => s.id !== 'treasury');
      for (const w of x.windows) w.services = w.services.filter((s) => s !== 'treasury');
      x.windows = x.windows.filter((w) => w.services.length);
    });
    const after = new Engine(without);
    for (const e of c.log) after.apply(e);
    expect(after.servicesOf(2)).toEqual(['complaints']);
    expect(after.servicesOf(3)).toEqual(['intake']);
    expect(after.windowsOf('complaints')).toEqual([2, 4, 10]);
    expect(after.servicesOf(5)).toEqual([]); // no such window any more
  });
});

describe('assign through the Core on a real SQLite file', () => {
  async function start(dir: string, at: number): Promise<Core> {
    const core = new Core({ config: example(), dataDir: dir, clock: () => at });
    await core.start();
    return core;
  }

  it('a restart keeps it, from a snapshot and from the log alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qhub-assign-'));
    const core = await start(dir, T('08:00'));
    const r = await core.submit({ type: 'assign', window: 2, services: ['treasury'], source: 'supervisor', id: 'a1' });
    expect(r).toMatchObject({ ok: true, events: [{ type: 'window.assigned', window: 2, services: ['treasury'], seq: 2 }] });
    expect((await core.submit({ type: 'issue', service: 'treasury', source: 'disp-1', id: 'p1' })).ok).toBe(true);
    // As forwarded to the backend, it matches docs/events.schema.json; an empty or repeated list would not.
    const validate = new Ajv2020({ allErrors: true }).compile(JSON.parse(readFileSync(new URL('../docs/events.schema.json', import.meta.url), 'utf8')) as object);
    const forwarded = { key: 'mansoura-tc:2', ...(r.ok ? r.events[0] : {}) };
    expect(validate(forwarded), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...forwarded, services: [] })).toBe(false);
    expect(validate({ ...forwarded, services: ['treasury', 'treasury'] })).toBe(false);
    core.stop(); // takes a snapshot

    const again = await start(dir, T('08:30'));
    expect(again.engine.servicesOf(2)).toEqual(['treasury']);
    const called = await again.submit({ type: 'next', window: 2, source: 'kp-2', id: 'n1' });
    expect(called.ok && called.ticket?.number).toBe('B001');
    again.store.close(); // a power cut: no snapshot of the call

    // Without any snapshot: rebuilt from the event log alone.
    const db = new Database(join(dir, 'qhub.db'));
    db.prepare('DELETE FROM snapshots').run();
    db.close();
    const third = await start(dir, T('08:40'));
    expect(third.engine.servicesOf(2)).toEqual(['treasury']);
    expect(third.engine.window(2).current).toBe(third.engine.ticket('B001')!.id);
    third.stop();
  });

  it('the rollover through the Core keeps it, and so does a restart after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qhub-assign-'));
    const core = await start(dir, T('14:00'));
    expect((await core.submit({ type: 'assign', window: 2, services: ['treasury'] })).ok).toBe(true);
    core.stop();
    const next = await start(dir, T('03:05', '2026-01-13')); // start() rolls the day over
    expect(next.engine.state.day).toBe('2026-01-13');
    expect(next.engine.servicesOf(2)).toEqual(['treasury']);
    next.stop();
    const third = await start(dir, T('08:00', '2026-01-13'));
    expect(third.engine.servicesOf(2)).toEqual(['treasury']);
    third.stop();
  });

  it('outlives the retention of the event log: the snapshot holds it after its event is pruned', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qhub-assign-'));
    const core = await start(dir, T('08:00'));
    expect((await core.submit({ type: 'assign', window: 2, services: ['treasury'] })).ok).toBe(true);
    core.stop();
    const later = T('08:00', '2026-02-20'); // 39 days on
    const again = await start(dir, later); // rolls over and snapshots
    again.snapshot();
    expect(again.store.prune(again.store.lastSeq, later - 30 * 24 * 3600_000)).toBeGreaterThan(0);
    expect([...again.store.replay(0)].some((e) => e.type === 'window.assigned')).toBe(false);
    again.stop();
    const third = await start(dir, later + MIN);
    expect(third.engine.servicesOf(2)).toEqual(['treasury']);
    third.stop();
  });

  it('loads a snapshot written before assignments existed (no "assigned"), with the same state version', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qhub-assign-'));
    const core = await start(dir, T('08:00'));
    expect((await core.submit({ type: 'issue', service: 'intake' })).ok).toBe(true);
    const { assigned: _none, ...old } = core.engine.state;
    const seq = core.store.lastSeq;
    core.store.close();
    const db = new Database(join(dir, 'qhub.db'));
    db.prepare('DELETE FROM snapshots').run();
    db.prepare('INSERT INTO snapshots (seq, at, state) VALUES (?, ?, ?)').run(seq, T('08:00'), JSON.stringify({ v: STATE_VERSION, state: old }));
    db.close();
    const again = await start(dir, T('08:10'));
    expect(again.engine.state.assigned).toEqual({});
    expect(again.engine.servicesOf(2)).toEqual(['intake']);
    expect(again.engine.ticket('A001')?.status).toBe('waiting');
    expect((await again.submit({ type: 'assign', window: 2, services: ['treasury', 'intake'] })).ok).toBe(true);
    expect(again.engine.servicesOf(2)).toEqual(['treasury', 'intake']);
    again.stop();
  });
});

describe('the command table', () => {
  it('has a decider for every command, and refuses a command type it does not have (even one named like an Object method)', () => {
    const c = new Center();
    expect(Object.keys(DECIDERS).sort()).toEqual(
      ['assign', 'attach', 'callInquiry', 'callTicket', 'cancel', 'close', 'enqueueInquiry', 'finish', 'issue', 'next', 'noShow', 'open', 'park', 'pause', 'recall', 'requeue', 'resume', 'returnNoShow', 'start', 'transfer'],
    );
    c.run({ type: 'open', window: 1 }, T('08:00')); // starts the day
    for (const type of ['fly', 'toString', 'constructor', '__proto__', undefined])
      expect(c.refuses({ type } as unknown as Command, T('08:01'), 'invalid_command')).toMatch(/unknown command/);
  });
});

describe('input the old command switch let through', () => {
  it('attach refuses an inquiry number that callInquiry and enqueueInquiry would refuse (it could never be called by it)', () => {
    const c = new Center();
    c.issue('intake', T('08:00'));
    c.refuses({ type: 'attach', ticket: 'A001', inquiry: '2026/77' }, T('08:01'), 'invalid_command');
    c.refuses({ type: 'enqueueInquiry', service: 'delivery', inquiry: '2026/77' }, T('08:01'), 'invalid_command');
    // One that passes is found again by the inquiry commands.
    c.ok({ type: 'attach', ticket: 'A001', inquiry: '2026-77' }, T('08:02'));
    expect(c.ok({ type: 'enqueueInquiry', service: 'delivery', inquiry: '2026-77' }, T('08:03')).ticket).toBe(c.engine.ticket('A001')!.id);
    expect(c.engine.ticket('A001')!.service).toBe('delivery');
  });

  it('a transfer or requeue with a position other than front/back is refused instead of stored in the log', () => {
    const c = new Center();
    c.issue('intake', T('08:00'));
    c.issue('intake', T('08:00'));
    c.next(1, T('08:01'));
    c.refuses({ type: 'transfer', window: 1, service: 'treasury', position: 'middle' } as unknown as Command, T('08:02'), 'invalid_command');
    c.refuses({ type: 'requeue', service: 'treasury', ticket: 'A002', position: 'top' } as unknown as Command, T('08:02'), 'invalid_command');
    expect(c.log.some((e) => e.type === 'ticket.transferred')).toBe(false);
    expect(c.ok({ type: 'transfer', window: 1, service: 'treasury', position: 'back' }, T('08:03')).events).toMatchObject([{ type: 'ticket.transferred', position: 'back' }]);
  });
});
