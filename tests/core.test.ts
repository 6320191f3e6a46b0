/**
 * The Core, the daemon's only command path, on a real SQLite file with a
 * fake clock: rollover through it, what the bus hears, the read side the
 * forwarder will use (readAfter, cursors), rebuilding the state at start
 * (from snapshots of this version, of an older one, refusing a newer one),
 * and events a receiver can read alone.
 */
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCenter } from '../config/load.js';
import type { CenterConfig } from '../config/schema.js';
import { Core, STATE_VERSION } from '../daemon/core/core.js';
import { EVENT_VERSION, type StoredEvent } from '../contract/queue.js';
import { Bus } from '../daemon/spine/bus.js';
import type { HubEvents } from '../daemon/spine/context.js';
import { captureLog } from './helpers/logs.js';

/** Cairo local time (UTC+2 in January) → ms. */
const EXAMPLE_CONFIG = new URL('../config/center.example.yaml', import.meta.url).pathname;
const T = (hhmm: string, date = '2026-01-12'): number => Date.parse(`${date}T${hhmm}:00+02:00`);

function example(edit?: (c: CenterConfig) => void): CenterConfig {
  const c = structuredClone(loadCenter(EXAMPLE_CONFIG, { QHUB_SUPERVISOR_SECRET: 'supervisor-secret-1' }).config);
  edit?.(c);
  return c;
}

async function setup(opts: { config?: CenterConfig; dir?: string; at?: number; snapshotEvery?: number } = {}) {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'qhub-core-'));
  const clock = { now: opts.at ?? T('08:00') };
  const { log, lines } = captureLog();
  const bus = new Bus<HubEvents>({ log });
  const heard: HubEvents['committed'][] = [];
  bus.on('committed', 'test', (c) => void heard.push(c));
  const core = new Core({ config: opts.config ?? example(), dataDir: dir, clock: () => clock.now, log, bus, ...(opts.snapshotEvery ? { snapshotEvery: opts.snapshotEvery } : {}) });
  await core.start();
  return { dir, clock, core, bus, heard, lines };
}

const ok = <T extends { ok: boolean }>(r: T): T & { ok: true } => {
  if (!r.ok) throw new Error(`refused: ${JSON.stringify(r)}`);
  return r as T & { ok: true };
};

describe('Core: the one command path', () => {
  it('starts a fresh store with the first business day and tells the bus', async () => {
    const { core, heard, bus } = await setup();
    expect(core.engine.state.day).toBe('2026-01-12');
    await bus.idle();
    expect(heard).toHaveLength(1);
    expect(heard[0]!.events).toMatchObject([{ type: 'day.rolled', from: null, to: '2026-01-12', seq: 1, v: EVENT_VERSION }]);
    core.stop();
  });

  it('rolls the day over before a command that comes after the rollover time; the reply holds the command’s events only', async () => {
    const { core, clock, heard, bus } = await setup();
    const a1 = ok(await core.submit({ type: 'issue', service: 'intake', source: 'disp-1', id: 'p1' }));
    expect(a1.ticket!.number).toBe('A001');
    ok(await core.submit({ type: 'issue', service: 'intake', source: 'disp-1', id: 'p2' }));
    clock.now = T('03:05', '2026-01-13'); // after the 03:00 rollover
    const next = ok(await core.submit({ type: 'issue', service: 'intake', source: 'disp-1', id: 'p3' }));
    expect(next.ticket!.number).toBe('A001'); // numbering restarted
    expect(next.ticket!.day).toBe('2026-01-13');
    expect(next.events.map((e) => e.type)).toEqual(['ticket.issued']);
    await bus.idle();
    const last = heard.at(-1)!;
    // The bus hears everything that was committed, the rollover included, in seq order.
    expect(last.events.map((e) => e.type)).toEqual(['ticket.cancelled', 'ticket.cancelled', 'day.rolled', 'ticket.issued']);
    expect(last.events.map((e) => e.seq)).toEqual([4, 5, 6, 7]);
    expect(last.events[0]).toMatchObject({ ticket: '2026-01-12/intake/1', number: 'A001', service: 'intake', reason: 'day ended', day: '2026-01-12' });
    core.stop();
  });

  it('tick() rolls over on the timer with no command; a refused command after a due rollover still commits the rollover', async () => {
    const { core, clock, heard, bus } = await setup();
    clock.now = T('03:01', '2026-01-13');
    expect(ok(await core.tick()).events.map((e) => e.type)).toEqual(['day.rolled']);
    expect(await core.tick()).toMatchObject({ ok: true, events: [] }); // once
    clock.now = T('03:01', '2026-01-14');
    const r = await core.submit({ type: 'next', window: 99 });
    expect(r).toMatchObject({ ok: false, error: { code: 'unknown_window' } });
    expect(core.engine.state.day).toBe('2026-01-14');
    await bus.idle();
    expect(heard.at(-1)!.events.map((e) => e.type)).toEqual(['day.rolled']);
    core.stop();
  });

  it('a repeated command id is answered from the first result and commits nothing', async () => {
    const { core } = await setup();
    const first = ok(await core.submit({ type: 'issue', service: 'treasury', source: 'disp-2', id: 'x' }));
    const seq = core.store.lastSeq;
    const again = ok(await core.submit({ type: 'issue', service: 'treasury', source: 'disp-2', id: 'x' }));
    expect(again.duplicate).toBe(true);
    expect(again.events).toEqual([]);
    expect(again.ticket!.id).toBe(first.ticket!.id);
    expect(core.store.lastSeq).toBe(seq);
    core.stop();
  });
});

describe('Core: the read side (readAfter, cursors)', () => {
  it('reads the log after a seq, in pages, and keeps named cursors across restarts', async () => {
    const { core, dir, clock } = await setup();
    for (let i = 0; i < 7; i++) ok(await core.submit({ type: 'issue', service: 'intake', source: 'd', id: String(i) }));
    const all = core.store.readAfter(0, 100);
    expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(core.store.readAfter(3, 2).map((e) => e.seq)).toEqual([4, 5]);
    expect(core.store.readAfter(8)).toEqual([]);
    expect(all[4]).toMatchObject({ type: 'ticket.issued', number: 'A004', seq: 5 });
    expect(core.store.cursor('backend')).toBe(0);
    core.store.setCursor('backend', 5);
    core.store.setCursor('central', 2);
    core.stop();
    const again = await (await setup({ dir, at: clock.now })).core;
    expect(again.store.cursor('backend')).toBe(5);
    expect(again.store.cursor('central')).toBe(2);
    expect(again.store.readAfter(again.store.cursor('backend')).map((e) => e.seq)).toEqual([6, 7, 8]);
    again.stop();
  });
});

describe('Core: rebuilding the state at start', () => {
  async function busyDay(core: Core, clock: { now: number }) {
    for (let i = 0; i < 30; i++) {
      clock.now += 60_000;
      ok(await core.submit({ type: 'issue', service: i % 3 ? 'intake' : 'treasury', source: 'disp-1', id: `p${i}` }));
      if (i % 4 === 3) ok(await core.submit({ type: 'next', window: 1 + (i % 2), source: 'kp', id: `n${i}` }));
    }
  }

  it('gives the same state from snapshot + log as the running core had', async () => {
    const { core, dir, clock } = await setup({ snapshotEvery: 7 });
    await busyDay(core, clock);
    const running = JSON.stringify(core.engine.state);
    // A power cut: no snapshot at stop, the store is simply closed.
    core.store.close();
    const again = await setup({ dir, at: clock.now, snapshotEvery: 7 });
    expect(JSON.stringify(again.core.engine.state)).toBe(running);
    again.core.stop();
  });

  it('reads a snapshot written before states had a version (the bare state) as version 1', async () => {
    const { core, dir, clock } = await setup();
    await busyDay(core, clock);
    const running = JSON.stringify(core.engine.state);
    const seq = core.store.lastSeq;
    core.store.close();
    const db = new Database(join(dir, 'qhub.db'));
    db.prepare('DELETE FROM snapshots').run();
    db.prepare('INSERT INTO snapshots (seq, at, state) VALUES (?, ?, ?)').run(seq, clock.now, running);
    db.close();
    const again = await setup({ dir, at: clock.now });
    expect(JSON.stringify(again.core.engine.state)).toBe(running);
    again.core.stop();
  });

  it('refuses, with a clear message, a snapshot written by a newer qhub', async () => {
    const { core, dir, clock } = await setup();
    await busyDay(core, clock);
    core.stop();
    const db = new Database(join(dir, 'qhub.db'));
    db.prepare('INSERT INTO snapshots (seq, at, state) VALUES (?, ?, ?)').run(10_000, clock.now, JSON.stringify({ v: STATE_VERSION + 1, state: {} }));
    db.close();
    await expect(setup({ dir, at: clock.now })).rejects.toThrow(/state version 2, and this qhub reads 1: it was written by a newer qhub/);
  });
});

describe('events a receiver can read alone', () => {
  it('every ticket event names its ticket number and service, every event its version, and command events their source', async () => {
    const config = example((c) => (c.center.day.leftovers = 'carry'));
    const { core, clock, heard, bus } = await setup({ config });
    const run = async (cmd: Parameters<Core['submit']>[0]) => {
      clock.now += 30_000;
      return ok(await core.submit(cmd));
    };
    await run({ type: 'issue', service: 'intake', source: 'disp-1', id: '1' });
    await run({ type: 'issue', service: 'intake', source: 'disp-1', id: '2' });
    await run({ type: 'issue', service: 'intake', source: 'disp-1', id: '3' });
    await run({ type: 'next', window: 1, source: 'kp-1', id: 'a' }); // A001 called
    await run({ type: 'recall', window: 1, source: 'kp-1', id: 'b' });
    await run({ type: 'start', window: 1, source: 'kp-1', id: 'c' });
    await run({ type: 'attach', ticket: 'A001', requestId: 'REQ-77', inquiry: '2026-5501', source: 'backend', id: 'att-1' });
    await run({ type: 'transfer', window: 1, service: 'treasury', source: 'kp-1', id: 'd' });
    await run({ type: 'next', window: 1, source: 'kp-1', id: 'e' }); // A002
    await run({ type: 'noShow', window: 1, source: 'kp-1', id: 'f' });
    await run({ type: 'returnNoShow', ticket: 'A002', source: 'kp-1', id: 'g' });
    await run({ type: 'next', window: 1, source: 'kp-1', id: 'h' }); // A002 again (front)
    await run({ type: 'park', window: 1, source: 'kp-1', id: 'i' });
    await run({ type: 'next', window: 5, source: 'kp-5', id: 'j' }); // A001 at the treasury
    await run({ type: 'finish', window: 5, source: 'kp-5', id: 'k' });
    await run({ type: 'issue', service: 'delivery', source: 'disp-1', id: '4' });
    await run({ type: 'cancel', ticket: 'C001', source: 'supervisor', id: 'l' });
    clock.now = T('03:01', '2026-01-13');
    ok(await core.tick()); // A003 waiting and A002 parked are carried to the new day
    await bus.idle();
    const events = heard.flatMap((h) => h.events);
    const types = new Set(events.map((e) => e.type));
    for (const t of ['ticket.issued', 'ticket.called', 'ticket.recalled', 'ticket.serving', 'ticket.attached', 'ticket.transferred', 'ticket.noShow', 'ticket.returned', 'ticket.parked', 'ticket.done', 'ticket.cancelled', 'ticket.carried', 'day.rolled', 'window.opened'])
      expect(types, t).toContain(t);
    for (const e of events) {
      expect(e.v, e.type).toBe(EVENT_VERSION);
      expect(typeof e.at).toBe('number');
      expect(e.day).toMatch(/^\d{4}-\d\d-\d\d$/);
      if (e.type.startsWith('ticket.')) {
        const t = e as StoredEvent & { number: string; service: string; ticket: string };
        expect(t.number, e.type).toMatch(/^[A-Z]\d{3}$/);
        expect(config.services.map((s) => s.id), e.type).toContain(t.service);
        expect(t.ticket).toContain('/');
      }
      if (e.ref) expect(e.ref.startsWith(`${e.source}/`), e.type).toBe(true);
    }
    // After it is attached, a ticket's events carry its request: the backend needs no lookup.
    const a001 = events.filter((e) => 'number' in e && e.number === 'A001' && e.seq > events.find((x) => x.type === 'ticket.attached')!.seq);
    expect(a001.length).toBeGreaterThanOrEqual(3);
    for (const e of a001) expect(e).toMatchObject({ requestId: 'REQ-77', inquiry: '2026-5501' });
    expect(events.find((e) => e.type === 'ticket.transferred')).toMatchObject({ number: 'A001', from: 'intake', to: 'treasury', service: 'treasury', window: 1, source: 'kp-1' });
    expect(events.find((e) => e.type === 'ticket.carried')).toMatchObject({ from: '2026-01-12', to: '2026-01-13', service: 'intake' });
    expect(events.find((e) => e.type === 'ticket.cancelled')).toMatchObject({ number: 'C001', service: 'delivery', source: 'supervisor' });
    core.stop();
  });
});

describe('Core: group commit', () => {
  it('50 presses arriving together are decided in order, committed in one transaction and each answered with its own ticket', async () => {
    const { core, heard, bus } = await setup();
    const groupsBefore = (core.health().detail as { groups: number }).groups;
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => core.submit({ type: 'issue', service: 'intake', source: `disp-${i % 2}`, id: `burst-${i}` })));
    expect(results.every((r) => r.ok)).toBe(true);
    const numbers = results.map((r) => (r.ok ? r.ticket!.number : ''));
    expect(numbers).toEqual(Array.from({ length: 50 }, (_, i) => `A${String(i + 1).padStart(3, '0')}`));
    // Each caller's ticket says how many were ahead of it when it was decided.
    expect(results.map((r) => (r.ok ? r.ticket!.ahead : -1))).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect((core.health().detail as { groups: number }).groups).toBe(groupsBefore + 1);
    await bus.idle();
    const last = heard.at(-1)!;
    expect(last.events.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));
    core.stop();
  });

  it('a retry inside the same group is still the same ticket', async () => {
    const { core } = await setup();
    const [a, b] = await Promise.all([
      core.submit({ type: 'issue', service: 'intake', source: 'disp-1', id: 'same' }),
      core.submit({ type: 'issue', service: 'intake', source: 'disp-1', id: 'same' }),
    ]);
    expect(a).toMatchObject({ ok: true, duplicate: false });
    expect(b).toMatchObject({ ok: true, duplicate: true });
    expect(a.ok && b.ok && a.ticket!.id === b.ticket!.id).toBe(true);
    expect(core.store.lastSeq).toBe(2);
    core.stop();
  });

  it('when the group cannot be written, every command of it is refused, nothing changed, and the next group goes on', async () => {
    const { core, dir } = await setup();
    ok(await core.submit({ type: 'issue', service: 'intake', source: 'd', id: 'before' }));
    const stateBefore = JSON.stringify(core.engine.state);
    const seqBefore = core.store.lastSeq;
    // The disk refuses writes of complaints tickets (SQLite aborts the transaction, as on a full disk).
    const db = new Database(join(dir, 'qhub.db'));
    db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON events WHEN json_extract(NEW.body, '$.service') = 'complaints' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`);
    db.close();
    const group = await Promise.all([
      core.submit({ type: 'issue', service: 'intake', source: 'd', id: 'g1' }),
      core.submit({ type: 'issue', service: 'complaints', source: 'd', id: 'g2' }),
      core.submit({ type: 'issue', service: 'intake', source: 'd', id: 'g3' }),
    ]);
    for (const r of group) expect(r).toMatchObject({ ok: false, error: { code: 'storage_failed' } });
    expect(core.store.lastSeq).toBe(seqBefore);
    expect(JSON.stringify(core.engine.state)).toBe(stateBefore);
    expect(core.engine.indexesAgree()).toBe(true);
    expect(core.health()).toMatchObject({ ok: false, summary: { storage: expect.stringContaining('disk is full') } });
    // Space is back: the same presses are served, and no number was burnt.
    const db2 = new Database(join(dir, 'qhub.db'));
    db2.exec('DROP TRIGGER refuse');
    db2.close();
    const again = ok(await core.submit({ type: 'issue', service: 'intake', source: 'd', id: 'g1' }));
    expect(again.ticket!.number).toBe('A002');
    expect(core.health().ok).toBe(true);
    core.stop();
  });
});

describe('retention: delivered events are kept forward.keepDays, undelivered ones for ever', () => {
  it('deletes only what every forwarder acknowledged and is old enough, and the state rebuilds the same', async () => {
    const { pruneDelivered } = await import('../daemon/store/retention.js');
    const config = example((c) => {
      c.forward.webhook = { url: 'https://backend.example/e', secret: 'x'.repeat(12), batch: 500, lingerMs: 200, timeoutMs: 10_000, maxBackoffMs: 60_000 };
      c.forward.keepDays = 1;
    });
    const { core, dir, clock } = await setup({ config, at: T('09:00', '2026-01-12') });
    const seqOfDay: Record<string, number[]> = {};
    for (const date of ['2026-01-12', '2026-01-13', '2026-01-14']) {
      for (let i = 0; i < 10; i++) {
        clock.now = T('09:00', date) + i * 60_000;
        const r = ok(await core.submit({ type: 'issue', service: 'intake', source: 'd', id: `${date}-${i}` }));
        (seqOfDay[date] ??= []).push(...r.events.map((e) => e.seq));
      }
    }
    // The backend acknowledged up to the middle of the 13th; it is noon on the 14th.
    const cursor = seqOfDay['2026-01-13']![4]!;
    core.store.registerReader('webhook');
    core.store.setCursor('webhook', cursor);
    clock.now = T('12:00', '2026-01-14');
    const state = JSON.stringify(core.engine.state);
    // A second reader that has read less holds pruning back to where it is.
    core.store.registerReader('reports');
    core.store.setCursor('reports', seqOfDay['2026-01-12']![4]!);
    const held = pruneDelivered(core.store, config.forward.keepDays, clock.now);
    expect(held.upTo).toBe(seqOfDay['2026-01-12']![4]!);
    expect(core.store.readAfter(0, 10_000).map((e) => e.seq)[0]).toBe(seqOfDay['2026-01-12']![5]!);
    core.store.setCursor('reports', core.store.lastSeq);
    const r = pruneDelivered(core.store, config.forward.keepDays, clock.now);
    const left = core.store.readAfter(0, 10_000).map((e) => e.seq);
    // Everything of the 12th went (delivered, older than a day); of the 13th, only what was delivered and before noon.
    for (const s of seqOfDay['2026-01-12']!) expect(left).not.toContain(s);
    for (const s of seqOfDay['2026-01-13']!) expect(left.includes(s)).toBe(s > cursor);
    for (const s of seqOfDay['2026-01-14']!) expect(left).toContain(s);
    expect(r.deleted).toBeGreaterThan(10);
    core.stop();
    const again = await setup({ config, dir, at: clock.now });
    expect(JSON.stringify(again.core.engine.state)).toBe(state);
    again.core.stop();
  });

  it('with no reader of the log registered nothing is deleted', async () => {
    const { pruneDelivered } = await import('../daemon/store/retention.js');
    const { core, clock } = await setup({ at: T('09:00', '2026-01-12') });
    ok(await core.submit({ type: 'issue', service: 'intake', source: 'd', id: '1' }));
    expect(pruneDelivered(core.store, core.config.forward.keepDays, clock.now + 400 * 24 * 3600_000).deleted).toBe(0);
    core.stop();
  });
});
