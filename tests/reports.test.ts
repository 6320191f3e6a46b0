/**
 * Reports: a business day written by hand (tests/reports-fixture.ts) whose
 * every figure is worked out below, checked in the CSV and in the HTML, in
 * English and Arabic; rollups equal to a recomputation; a week's report that
 * survives the pruning of its events; a day through the real Core; and
 * `qhub report` reading the store while a hub writes to it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadCenter } from '../config/load.js';
import type { CenterConfig } from '../config/schema.js';
import { Core } from '../daemon/core/core.js';
import { pruneDelivered } from '../daemon/store/retention.js';
import { CURSOR as WEBHOOK_CURSOR } from '../daemon/forwarder/webhook.js';
import { computeDay } from '../daemon/reports/kpi.js';
import { ReportsModule, reportTime } from '../daemon/reports/module.js';
import { tables, toCsv, toHtml, type Lang } from '../daemon/reports/render.js';
import { figuresFor, isoWeekDays, isoWeekOf, readRollup, reportFor, writeRollup } from '../daemon/reports/rollups.js';
import { nearestRank, summarize } from '../daemon/reports/summary.js';
import { Bus } from '../daemon/spine/bus.js';
import type { HubContext, HubEvents } from '../daemon/spine/context.js';
import { Store } from '../daemon/store/store.js';
import { at, DAY, fixtureConfig, fixtureEvents } from './reports-fixture.js';
import { CLI, testCenter } from './helpers/hub.js';
import { captureLog } from './helpers/logs.js';

const EXAMPLE_CONFIG = new URL('../config/center.example.yaml', import.meta.url).pathname;
const example = (): CenterConfig => structuredClone(loadCenter(EXAMPLE_CONFIG, { QHUB_SUPERVISOR_SECRET: 'supervisor-secret-1' }).config);
const GENERATED = Date.parse('2026-10-30T08:00:00+02:00');

/** Sections of our CSV: title line → header and rows (first cell = what the row is about). */
function parseCsv(text: string): Map<string, string[][]> {
  expect(text.startsWith('\ufeff')).toBe(true);
  const rows: string[][] = [];
  for (const line of text.slice(1).split('\r\n')) {
    const cells: string[] = [];
    let cur = '';
    let q = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i]!;
      if (q && ch === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (ch === '"') q = !q;
      else if (ch === ',' && !q) cells.push(cur), (cur = '');
      else cur += ch;
    }
    cells.push(cur);
    rows.push(line === '' ? [] : cells);
  }
  const sections = new Map<string, string[][]>();
  for (let i = 0; i < rows.length; i++) {
    if (rows[i]!.length === 1 && rows[i - 1]?.length === 0 && rows[i + 1]!.length > 1) {
      const body: string[][] = [];
      for (let j = i + 1; j < rows.length && rows[j]!.length; j++) body.push(rows[j]!);
      sections.set(rows[i]![0]!, body);
    }
  }
  return sections;
}

/** An HTML table's rows by data-key, as cell texts. */
function htmlTable(html: string, id: string): Map<string, string[]> {
  const m = new RegExp(`<table id="${id}">([\\s\\S]*?)</table>`).exec(html);
  expect(m, `table ${id}`).toBeTruthy();
  const unesc = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
  const out = new Map<string, string[]>();
  for (const r of m![1]!.matchAll(/<tr data-key="([^"]*)">([\s\S]*?)<\/tr>/g)) out.set(unesc(r[1]!), [...r[2]!.matchAll(/<td(?: dir="ltr")?>([\s\S]*?)<\/td>/g)].map((c) => unesc(c[1]!)));
  return out;
}

/** Expected cells (English) of the crafted day, worked out by hand. */
const EXPECTED: Record<string, Record<string, string[]> | [string, string[]][]> = {
  // Intake (target 10 min): issued A001–A012 = 12. Waits (last call − joining), minutes:
  //   A001 18:00→18:02 = 2, A002 18:01→18:05 = 4, A003 18:04→18:25 = 21 (no-show at 18:12, returned,
  //   its LAST call counts), A004 18:06→18:15 = 9, A005 18:30→18:50 = 20, A007 18:41→18:45 = 4,
  //   A008 18:49→18:56 = 7, A009 22:50→22:52 = 2, A010 23:50 EEST→23:05 EET = 15 (not −45),
  //   A011 23:20→23:30 = 10. Sorted: 2 2 4 4 7 9 10 15 20 21; sum 94 → mean 9.4;
  //   median = rank ⌈0.5·10⌉ = 5th = 7; P90 = rank ⌈0.9·10⌉ = 9th = 20; max 21.
  //   Within 10 min (≤): 2 2 4 4 7 9 10 → 7 of 10 = 70.0 %.
  //   Served 8: A001 7 (serving 18:03→18:10), A002 6 (no serving: call 18:05→18:11), A003 10,
  //   A004 5, A008 8, A009 8, A010 10, A011 10 → sorted 5 6 7 8 8 10 10 10: mean 8.0,
  //   median 4th = 8, P90 ⌈7.2⌉ = 8th = 10.
  //   No-shows: A003 (returned: 1) and A007 (final: 1). Cancelled: A006 by the supervisor
  //   ("left"), A012 at the day's close. Transfers out: A004 (backend, after its visit), A005
  //   (from window 1). Longest queue 3 (18:41: A005, A006, A007).
  // Treasury (target 15): in by transfer A004 18:21→18:30 = 9, A005 18:55→19:00 = 5;
  //   sorted 5 9: mean 7, median ⌈1⌉ = 5, P90 ⌈1.8⌉ = 2nd = 9; both ≤ 15 → 100 %.
  //   Service: A004 4 (call 18:30→18:34), A005 12 (serving 19:01→19:13): mean 8, median 4, P90 12.
  // All: 12 waits, sum 108 → 9.0; median 6th of 2 2 4 4 5 7 9 9 10 15 20 21 = 7; P90 11th = 20;
  //   within own targets 7 + 2 = 9 of 12 = 75.0 %. Service 10 values (sum 80): mean 8, median
  //   5th of 4 5 6 7 8 8 10 10 10 12 = 8, P90 9th = 10, max 12.
  services: {
    intake: ['New requests', '10', '12', '0', '10', '7', '70.0', '8', '1', '1', '1', '1', '0', '2', '3'],
    treasury: ['Treasury (fees)', '15', '0', '2', '2', '2', '100.0', '2', '0', '0', '0', '0', '0', '0', '1'],
    '*': ['All services', '', '12', '2', '12', '9', '75.0', '10', '1', '1', '1', '1', '0', '2', '3'],
  },
  'service-times': {
    intake: ['New requests', '9.4', '7.0', '20.0', '21.0', '8.0', '8.0', '10.0', '10.0'],
    treasury: ['Treasury (fees)', '7.0', '5.0', '9.0', '9.0', '8.0', '4.0', '12.0', '12.0'],
    '*': ['All services', '9.0', '7.0', '20.0', '21.0', '8.0', '8.0', '10.0', '12.0'],
  },
  // Window 1: open 18:00→19:10 = 70 min. Busy (call → end of the visit): A001 18:02–18:10 8,
  //   A003 18:12–18:14 2 (no-show), A004 18:15–18:20 5, A005 18:50–18:55 5 (transferred),
  //   A008 18:56–19:05 9 → 29; idle 41; 29/70 = 41.4 %. Served A001 7, A004 5, A008 8 →
  //   mean 6.7, median 2nd of 5 7 8 = 7, P90 3rd = 8. Closed 22:50–22:52 while A009 waited: 2 min.
  // Window 2: open 18:00→18:48 (48) + 19:08 EEST→23:50 EET (5 h 42 = 342; a local-clock
  //   difference would say 282) = 390; paused "prayer" 18:48→19:08 = 20. Busy: A002 6, A003
  //   18:25–18:36 11, A007 2, A009 8, A010 10, A011 10 = 47; idle 343; 47/390 = 12.1 %.
  //   Service 6 10 8 10 10 → mean 8.8, median 10, P90 ⌈4.5⌉ = 5th = 10. Paused while
  //   A005 then A008 waited: 18:48→18:56 = 8 min, at most 2 waiting.
  // Window 3: open 18:00 EEST→23:45 EET = 6 h 45 = 405 (the local clocks differ by 5 h 45);
  //   busy A004 4 + A005 13 = 17 → 4.2 %.
  windows: {
    '1': ['Window 1', '5', '3', '1', '1', '70.0', '29.0', '41.0', '0.0', '41.4', '6.7', '7.0', '8.0', '2.0'],
    '2': ['Window 2', '6', '5', '1', '0', '390.0', '47.0', '343.0', '20.0', '12.1', '8.8', '10.0', '10.0', '8.0'],
    '3': ['Window 3', '2', '2', '0', '0', '405.0', '17.0', '388.0', '0.0', '4.2', '8.0', '4.0', '12.0', '0.0'],
  },
  pauses: { '2/prayer': ['Window 2', 'prayer', '20.0'] },
  // Hours: 18:00 issued A001–A008 (8); calls 8 intake + A004 at the treasury = 9; done A001,
  //   A002, A004 (intake), A004 (treasury), A003 = 5; no-shows 2; the queue grew by +1 (intake
  //   9 in − 9 out, treasury 2 in − 1 out); at most 3 waiting; waits begun in the hour: the 7
  //   intake ones (2 4 21 9 20 4 7) and the treasury's 9 and 5: 81/9 = 9.0.
  // 19:00 A005 called at the treasury (the one left waiting: the hour began with 1), done A008
  //   and A005. 20:00 and 21:00: nothing (rows kept so the charts show the gap). 22:00 A009.
  // 23:00 happens twice: first in EEST (UTC+03): A009 done at 23:00, A010 issued at 23:50
  //   (+1, waits 15 min); then in EET (UTC+02): A010 called, A011 issued and called, A012
  //   issued; A010 and A011 done. 03:00: the rollover cancels A012 (−1).
  // An array, not an object: JavaScript would put the key '3' first.
  hours: [
    ['18', ['18:00', '8', '9', '5', '2', '1', '3', '9.0']],
    ['19', ['19:00', '0', '1', '2', '0', '-1', '1', '']],
    ['20', ['20:00', '0', '0', '0', '0', '0', '0', '']],
    ['21', ['21:00', '0', '0', '0', '0', '0', '0', '']],
    ['22', ['22:00', '1', '1', '0', '0', '0', '1', '2.0']],
    ['23@180', ['23:00 (UTC+03)', '1', '0', '1', '0', '1', '1', '15.0']],
    ['23@120', ['23:00 (UTC+02)', '2', '2', '2', '0', '0', '1', '10.0']],
    ['3', ['03:00', '0', '0', '0', '0', '-1', '1', '']],
  ],

  // Growth > 0: the treasury at 18:00 (+1) and intake in the first 23:00 (+1); equal growth and
  // queue, so in the order of the hours.
  bottlenecks: {
    'treasury/18:00': ['Treasury (fees)', '18:00', '0', '1', '1', '1'],
    'intake/23:00 (UTC+03)': ['New requests', '23:00 (UTC+03)', '1', '0', '1', '1'],
  },
  // Only within opening hours (18:00–23:00 EEST): A010 waiting at 23:50 with window 1 closed is after closing.
  unavailable: {
    [`2/${at('18:48')}`]: ['Window 2', 'prayer', '18:48', '18:56', '8.0', '2'],
    [`1/${at('22:50')}`]: ['Window 1', 'closed', '22:50', '22:52', '2.0', '1'],
  },
  'cancelled-by': { hub: ["the hub (day's close)", '1'], supervisor: ['supervisor', '1'] },
  'cancelled-why': { 'day ended': ['day ended', '1'], left: ['left', '1'] },
  transfers: { 'intake>treasury': ['New requests', 'Treasury (fees)', '2'] },
};

/** Expected rows as [key, cells] pairs, in order. */
const pairs = (rows: Record<string, string[]> | [string, string[]][]): [string, string[]][] => (Array.isArray(rows) ? rows : Object.entries(rows));

function fixtureReport() {
  const config = fixtureConfig(example());
  const f = computeDay(DAY, fixtureEvents(), config);
  return { config, f, report: summarize({ kind: 'day', period: DAY, days: [DAY], figures: [f], config }) };
}

describe('reports: the crafted day', () => {
  it('nearest rank: the median of an even count is the lower middle value, P90 of 10 the 9th', () => {
    expect(nearestRank([1, 2, 3, 4], 0.5)).toBe(2);
    expect(nearestRank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBe(9);
    expect(nearestRank([7], 0.9)).toBe(7);
    expect(nearestRank([], 0.5)).toBeNull();
  });

  it('every figure of the CSV (English) matches the hand-worked values, rows in order', () => {
    const { report } = fixtureReport();
    const csv = parseCsv(toCsv(report, 'en', { generatedAt: GENERATED }));
    const en = tables(report, 'en');
    for (const [id, rows] of Object.entries(EXPECTED)) {
      const tb = en.find((t) => t.id === id)!;
      const section = csv.get(tb.title);
      expect(section, id).toBeDefined();
      expect(section![0], `${id} header`).toEqual(tb.head);
      // The CSV rows are the expected rows, in the same order, nothing more.
      expect(section!.slice(1), id).toEqual(pairs(rows).map(([, c]) => c));
    }
  });

  it('the HTML pages (Arabic, right to left; English) carry the same figures, self-contained, with SVG charts', () => {
    const { report } = fixtureReport();
    for (const lang of ['en', 'ar'] as Lang[]) {
      const html = toHtml(report, lang, { generatedAt: GENERATED });
      expect(html).toContain(lang === 'ar' ? '<html lang="ar" dir="rtl">' : '<html lang="en" dir="ltr">');
      for (const [id, rows] of Object.entries(EXPECTED)) {
        const got = htmlTable(html, id);
        expect([...got.keys()], `${lang} ${id}`).toEqual(pairs(rows).map(([k]) => k));
        for (const [key, cells] of pairs(rows)) {
          // Names and words differ by language; the numbers do not.
          const numeric = (c: string[]) => c.map((x, i) => (i === 0 || /[^\d.:\-() UTC+]/.test(x) ? '·' : x));
          expect(numeric(got.get(key)!), `${lang} ${id} ${key}`).toEqual(numeric(cells));
          if (lang === 'en') expect(got.get(key), `${id} ${key}`).toEqual(cells);
        }
      }
      // Two charts, one bar per hour and series with a value (8 hours; waits in 5 of them).
      expect(html.match(/<svg /g)).toHaveLength(2);
      const flow = /<svg id="chart-flow"[\s\S]*?<\/svg>/.exec(html)![0];
      const wait = /<svg id="chart-wait"[\s\S]*?<\/svg>/.exec(html)![0];
      expect(flow.match(/<rect class="bar"/g)).toHaveLength(16);
      expect(wait.match(/<rect class="bar"/g)).toHaveLength(4);
      expect(wait).toContain('>23:00 +03<');
      expect(wait).toContain('>23:00 +02<');
      // Negative growth stays "-1" in a right-to-left table.
      expect(html).toContain('<td dir="ltr">-1</td>');
      // Nothing fetched from elsewhere: no scripts, links, external fonts or images.
      expect(html).not.toMatch(/<script|<link|src=|href=|@import|url\(/i);
      expect(html).toContain('@page{size:A4');
    }
    const ar = toHtml(report, 'ar', { generatedAt: GENERATED });
    expect(htmlTable(ar, 'services').get('intake')![0]).toBe('تقديم الطلبات');
    expect(htmlTable(ar, 'windows').get('2')![0]).toBe('شباك 2');
    const csvAr = toCsv(report, 'ar', { generatedAt: GENERATED });
    expect(csvAr.startsWith('\ufeffالمركز التكنولوجي')).toBe(true);
    expect(parseCsv(csvAr).get('الخدمات: الأعداد')![1]).toEqual(['تقديم الطلبات', ...(EXPECTED.services as Record<string, string[]>).intake!.slice(1)]);
  });

  it('a window given other services during the day (window.assigned) is judged by them from then on', () => {
    const config = fixtureConfig(example());
    const events = fixtureEvents();
    // At 22:00 window 1 (closed since 19:10) is given the treasury instead of intake: A009 waiting
    // for intake at 22:50 is then no longer a citizen waiting for window 1's services.
    const i = events.findIndex((e) => e.at >= at('22:00'));
    events.splice(i, 0, { type: 'window.assigned', window: 1, services: ['treasury'], v: 2, at: at('22:00'), day: DAY, seq: 0 } as never);
    const f = computeDay(DAY, events, config);
    expect(f.unavailable.map((e) => [e.window, e.state])).toEqual([[2, 'prayer']]);
  });

  it('counts, sums and samples are exact in seconds; waits and service times agree with what the engine stamped', () => {
    const { f } = fixtureReport();
    expect(f.complete).toBe(true);
    expect(f.services.intake!.waits).toEqual([2, 2, 4, 4, 7, 9, 10, 15, 20, 21].map((m) => m * 60));
    const stamped = fixtureEvents()
      .filter((e) => e.type === 'ticket.done')
      .map((e) => (e as { serviceMs: number }).serviceMs / 1000)
      .sort((a, b) => a - b);
    expect([...f.services.intake!.serviceTimes, ...f.services.treasury!.serviceTimes].sort((a, b) => a - b)).toEqual(stamped);
  });
});

describe('reports: rollups', () => {
  it('the rollup kept in the store is exactly the recomputation, and so are the reports made from each', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qhub-reports-'));
    const config = fixtureConfig(example());
    const store = new Store(join(dir, 'qhub.db'));
    store.open();
    store.append(fixtureEvents().map(({ seq, ...e }) => (void seq, e)));
    const kept = writeRollup(store, config, DAY)!;
    const fresh = computeDay(DAY, store.eventsOfDay(DAY), config);
    expect(readRollup(store, DAY)).toEqual(fresh);
    expect(kept).toEqual(fresh);
    const now = at('next:12:00+02');
    const fromEvents = reportFor(store, config, { day: DAY }, now);
    expect(fromEvents.sources).toEqual({ [DAY]: 'events' });
    // Every event of the day gone: the rollup answers, with the same report to the byte.
    store.prune(store.lastSeq, Number.MAX_SAFE_INTEGER);
    store.saveSnapshot(store.lastSeq, now, {}); // prune keeps what the latest snapshot needs
    expect(store.prune(store.lastSeq, Number.MAX_SAFE_INTEGER)).toBeGreaterThan(0);
    expect(store.eventsOfDay(DAY)).toEqual([]);
    const fromRollup = reportFor(store, config, { day: DAY }, now);
    expect(fromRollup.sources).toEqual({ [DAY]: 'rollup' });
    expect(toCsv(fromRollup.report, 'ar', { generatedAt: now })).toBe(toCsv(fromEvents.report, 'ar', { generatedAt: now }));
    expect(toHtml(fromRollup.report, 'en', { generatedAt: now })).toBe(toHtml(fromEvents.report, 'en', { generatedAt: now }));
    store.close();
  });

  it('ISO weeks: Monday to Sunday, the year boundary, and a week that does not exist', () => {
    expect(isoWeekDays('2026-W48')).toEqual(['2026-11-23', '2026-11-24', '2026-11-25', '2026-11-26', '2026-11-27', '2026-11-28', '2026-11-29']);
    expect(isoWeekOf('2026-11-24')).toBe('2026-W48');
    expect(isoWeekDays('2026-W01')[0]).toBe('2025-12-29');
    expect(isoWeekOf('2027-01-03')).toBe('2026-W53');
    expect(() => isoWeekDays('2025-W53')).toThrow(/2025 has no week 53/);
    expect(() => isoWeekDays('2026-48')).toThrow(/2026-W48/);
  });
});

/** Cairo local time in November (UTC+2) → ms. */
const C = (date: string, hhmm: string) => Date.parse(`${date}T${hhmm}:00+02:00`);

async function coreDay(core: Core, clock: { now: number }, date: string, k: number) {
  const go = async (hhmm: string, cmd: Parameters<Core['submit']>[0]) => {
    clock.now = C(date, hhmm);
    const r = await core.submit(cmd);
    if (!r.ok) throw new Error(`${hhmm} ${JSON.stringify(cmd)}: ${r.error.message}`);
    return r;
  };
  // Three intake tickets; window 1 calls them 5, 7 and 9 + k minutes after they were issued.
  await go('08:00', { type: 'open', window: 1, source: 'kp-1', id: `${date}-o` });
  await go('09:00', { type: 'issue', service: 'intake', source: 'disp-1', id: `${date}-1` });
  await go('09:01', { type: 'issue', service: 'intake', source: 'disp-1', id: `${date}-2` });
  await go('09:02', { type: 'issue', service: 'intake', source: 'disp-1', id: `${date}-3` });
  await go('09:05', { type: 'next', window: 1, source: 'kp-1', id: `${date}-n1` });
  await go('09:08', { type: 'next', window: 1, source: 'kp-1', id: `${date}-n2` }); // finishes the first: 3 min
  await go(`09:${String(11 + k).padStart(2, '0')}`, { type: 'next', window: 1, source: 'kp-1', id: `${date}-n3` });
  await go('09:20', { type: 'finish', window: 1, source: 'kp-1', id: `${date}-f` });
  await go('10:00', { type: 'close', window: 1, source: 'kp-1', id: `${date}-c` });
}

describe('reports: through the real engine and store', () => {
  it('a day made by the Core: its figures; the module keeps the rollup at the rollover; a week survives the pruning of its events', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qhub-reports-core-'));
    const config = example();
    // A configured webhook makes delivered events prunable (the forwarder itself is not started here).
    config.forward = { ...config.forward, keepDays: 1, webhook: { url: 'http://127.0.0.1:9/x', secret: 's', batch: 500, lingerMs: 200, timeoutMs: 10_000, maxBackoffMs: 60_000 } as never };
    const clock = { now: C('2026-11-23', '07:00') };
    const { log, lines } = captureLog();
    const bus = new Bus<HubEvents>({ log });
    const core = new Core({ config, dataDir: dir, clock: () => clock.now, log, bus });
    await core.start();
    const ctx = { config, log, core, bus, dataDir: dir } as unknown as HubContext;
    const mod = new ReportsModule(ctx);
    await mod.start();
    const days = ['2026-11-23', '2026-11-24', '2026-11-25'];
    for (const [k, d] of days.entries()) await coreDay(core, clock, d, k);
    // Past the rollover of the last day: each rollover had the module keep the day before.
    clock.now = C('2026-11-26', '03:01');
    await core.tick();
    await bus.idle();
    expect(lines.filter((l) => l.msg === 'day figures kept (rollup)').map((l) => l.day)).toEqual(days);

    // Figures of the first day: waits 5 (09:00→09:05), 7 (09:01→09:08), 9 (09:02→09:11).
    const f = readRollup(core.store, '2026-11-23')!;
    expect(f.services.intake!.waits).toEqual([300, 420, 540]);
    expect(f.services.intake!.serviceTimes).toEqual([180, 180, 540]); // 09:05→09:08, 09:08→09:11, 09:11→09:20
    expect(f.windows['1']!.openMs).toBe(2 * 3600_000); // 08:00 → 10:00
    expect(f.windows['1']!.busyMs).toBe(15 * 60_000); // 09:05 → 09:20
    // The engine's own serviceMs on ticket.done equal ours.
    const done = core.store.eventsOfDay('2026-11-23').filter((e) => e.type === 'ticket.done').map((e) => (e as { serviceMs: number }).serviceMs / 1000);
    expect(done.sort((a, b) => a - b)).toEqual([180, 180, 540]);
    for (const d of days) expect(readRollup(core.store, d)).toEqual(computeDay(d, core.store.eventsOfDay(d), config));

    const week = isoWeekOf(days[0]!);
    const now = C('2026-11-30', '12:00');
    clock.now = now;
    const before = reportFor(core.store, config, { week }, now);
    expect(Object.values(before.sources)).toEqual(['events', 'events', 'events', 'events']); // Thursday 26th has its day.rolled
    // Waits 5,7,9 / 5,7,10 / 5,7,11 min: mean 66/9 min = 440 s, median 5th = 7 min, P90 ⌈8.1⌉ = 9th = 11 min.
    expect(before.report.total.wait).toEqual({ n: 9, avg: 440, median: 420, p90: 660, max: 660 });
    expect(before.report.total.served).toBe(9);

    // Every event delivered; on the 27th at 03:00 those older than keepDays (1) go: the 23rd to the 25th.
    core.store.registerReader(WEBHOOK_CURSOR);
    core.store.setCursor(WEBHOOK_CURSOR, core.store.lastSeq);
    core.snapshot();
    const pruned = pruneDelivered(core.store, config.forward.keepDays, C('2026-11-27', '03:00'));
    expect(pruned.deleted).toBeGreaterThan(30);
    for (const d of days) expect(core.store.eventsOfDay(d)).toEqual([]);
    const after = reportFor(core.store, config, { week }, now);
    expect(Object.values(after.sources)).toEqual(['rollup', 'rollup', 'rollup', 'events']);
    expect(after.report.total).toEqual(before.report.total);
    expect(toCsv(after.report, 'en', { generatedAt: now })).toBe(toCsv(before.report, 'en', { generatedAt: now }));

    // The scheduled writer: the week's files on Sunday (2026-11-29) in both languages.
    const written = mod.scheduled(C('2026-11-29', '16:00'));
    expect(written.map((p) => p.slice(dir.length + 1))).toEqual([]);
    config.reports = { ...config.reports, daily: true, weekly: true };
    const files = mod.scheduled(C('2026-11-29', '16:00'));
    expect(files.map((p) => p.slice(dir.length + 1))).toEqual([
      'reports/2026-11-29.ar.csv',
      'reports/2026-11-29.ar.html',
      'reports/2026-11-29.en.csv',
      'reports/2026-11-29.en.html',
      'reports/2026-W48.ar.csv',
      'reports/2026-W48.ar.html',
      'reports/2026-W48.en.csv',
      'reports/2026-W48.en.html',
    ]);
    expect(readFileSync(join(dir, 'reports/2026-W48.en.csv'), 'utf8')).toContain('Weekly report 2026-W48 (2026-11-23 – 2026-11-29)');
    await mod.stop();
    core.stop();
  });

  it('a ticket carried into the next day (leftovers: carry) counts its whole wait on the day it is called', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qhub-reports-carry-'));
    const config = example();
    config.center.day.leftovers = 'carry';
    const clock = { now: C('2026-11-24', '14:50') };
    const core = new Core({ config, dataDir: dir, clock: () => clock.now });
    await core.start();
    expect((await core.submit({ type: 'issue', service: 'intake', source: 'disp-1', id: 'late' })).ok).toBe(true);
    clock.now = C('2026-11-25', '08:10');
    expect((await core.submit({ type: 'next', window: 1, source: 'kp-1', id: 'n' })).ok).toBe(true);
    const d1 = computeDay('2026-11-24', core.store.eventsOfDay('2026-11-24'), config);
    const d2 = computeDay('2026-11-25', core.store.eventsOfDay('2026-11-25'), config);
    expect([d1.services.intake!.issued, d1.services.intake!.carriedOut, d1.services.intake!.called]).toEqual([1, 1, 0]);
    // 14:50 → 08:10 the next day = 17 h 20 min, in the hour it was called.
    expect(d2.services.intake!.waits).toEqual([(17 * 60 + 20) * 60]);
    expect(d2.hours.find((h) => h.hour === 8)!.waitCount).toBe(1);
    core.stop();
  });

  it('the scheduled reports run at reports.at in the center’s time zone (node-cron), or an hour after closing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qhub-reports-cron-'));
    const config = example();
    config.reports = { ...config.reports, daily: true, weekly: true, at: '16:30' };
    const { log } = captureLog();
    const bus = new Bus<HubEvents>({ log });
    const core = new Core({ config, dataDir: dir, log, bus });
    await core.start();
    const mod = new ReportsModule({ config, log, core, bus, dataDir: dir } as unknown as HubContext);
    await mod.start();
    const next = Date.parse(String(mod.health().detail!.nextReport));
    const local = new Intl.DateTimeFormat('en-GB', { timeZone: 'Africa/Cairo', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(next);
    expect(local).toBe('16:30');
    expect(next - Date.now()).toBeGreaterThan(0);
    expect(next - Date.now()).toBeLessThanOrEqual(24 * 3600_000);
    await mod.stop();
    core.stop();
    delete (config.reports as { at?: string }).at;
    expect(reportTime(config)).toBe('16:00'); // closes 15:00
  });

  it('qhub report reads the store read-only while the hub writes to it (WAL), and explains bad arguments', async () => {
    const run = promisify(execFile);
    const { dir, config: file } = testCenter();
    const env = { ...process.env, QHUB_SUPERVISOR_SECRET: 'supervisor-secret-1' };
    const config = loadCenter(file, env).config;
    const clock = { now: Date.now() };
    const core = new Core({ config, dataDir: join(dir, 'data'), clock: () => clock.now });
    await core.start();
    const today = core.engine.state.day!;
    let writing = true;
    let written = 0;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const r = await core.submit({ type: 'issue', service: 'intake', source: 'disp-1', id: `w${i}` });
        if (r.ok) written++;
        await new Promise((res) => setImmediate(res));
      }
    })();
    const out = join(dir, 'today.html');
    const cli = await run(process.execPath, [CLI, 'report', '--day', today, '--html', '--lang', 'ar', '--config', file, '--data', join(dir, 'data'), '--out', out], { timeout: 60_000, env });
    writing = false;
    await writer;
    expect(cli.stderr).toContain('HTML report, 1 day(s)');
    expect(written).toBeGreaterThan(0);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('<html lang="ar" dir="rtl">');
    const issued = Number(htmlTable(html, 'services').get('intake')![2]);
    expect(issued).toBeGreaterThan(0);
    expect(issued).toBeLessThanOrEqual(written);
    // The CSV to standard output; then mistakes a technician can fix.
    const csv = await run(process.execPath, [CLI, 'report', '--day', today, '--lang', 'en', '--config', file, '--data', join(dir, 'data')], { env });
    expect(csv.stdout.startsWith('\ufeff')).toBe(true);
    expect(csv.stdout).toContain(`Daily report ${today}`);
    const fail = (args: string[]) => run(process.execPath, [CLI, 'report', ...args, '--config', file, '--data', join(dir, 'data')], { env }).then(() => '', (e: { stderr: string }) => e.stderr);
    expect(await fail(['--week', '2026-48'])).toContain('write it as 2026-W48');
    expect(await fail(['--day', '2020-01-01'])).toContain('no events and no rollup for 2020-01-01');
    expect(await fail([])).toContain('give exactly one of --day or --week');
    expect(await run(process.execPath, [CLI, 'report', '--day', today, '--config', file, '--data', join(dir, 'nowhere')], { env }).then(() => '', (e: { stderr: string }) => e.stderr)).toMatch(/cannot read the store .*nowhere/);
    expect(existsSync(join(dir, 'nowhere'))).toBe(false); // a reader creates nothing
    core.stop();
    // The unused import guard: figuresFor is what reportFor uses.
    expect(typeof figuresFor).toBe('function');
  });
});
