/**
 * Report figures' cost: one busy day (3,000 tickets made by the real engine,
 * stored in a real SQLite file) → read, compute, summarize, CSV, HTML; and a
 * year of daily rollups (365 rows in the store) → a monthly and a yearly
 * report. Prints JSON; `npm run bench` can take it in later.
 *
 *   node dist/tests/bench/reports.js [--tickets 3000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { loadCenter } from '../../config/load.js';
import { Engine } from '../../daemon/engine/engine.js';
import type { Command, QueueEvent, StoredEvent } from '../../contract/queue.js';
import { computeDay, type DayFigures } from '../../daemon/reports/kpi.js';
import { toCsv, toHtml } from '../../daemon/reports/render.js';
import { readRollup, ROLLUP_KIND } from '../../daemon/reports/rollups.js';
import { summarize } from '../../daemon/reports/summary.js';
import { Store } from '../../daemon/store/store.js';
import { EXAMPLE_CONFIG } from '../../config/load.js';
import { addDays } from '../../daemon/engine/clock.js';

const { values } = parseArgs({ options: { tickets: { type: 'string' }, runs: { type: 'string' } } });
const TICKETS = Number(values.tickets ?? 3000);
const RUNS = Number(values.runs ?? 5);

const config = loadCenter(EXAMPLE_CONFIG, { ...process.env, QHUB_SUPERVISOR_SECRET: 'bench-secret-123' }).config;
for (const s of config.services) s.last = 9999; // a busy day: no service runs out of numbers
const DAY = '2026-11-24';
const T0 = Date.parse(`${DAY}T08:00:00+02:00`);

/** A seeded PRNG, so every run makes the same day. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** One day through Engine.step: tickets every few seconds, windows calling as they free up, some no-shows, transfers and pauses. */
function makeDay(): StoredEvent[] {
  const engine = new Engine(config);
  const log: StoredEvent[] = [];
  const commit = (events: QueueEvent[]) => {
    const out = events.map((e, i) => ({ ...e, seq: log.length + i + 1 }));
    log.push(...out);
    return out;
  };
  const r = rng(42);
  const services = config.services.map((s) => s.id);
  const windows = config.windows.map((w) => w.number);
  const freeAt = new Map(windows.map((w) => [w, T0]));
  const span = 7 * 3600_000;
  const step = span / TICKETS;
  let id = 0;
  const run = (cmd: Command, now: number) => engine.step({ ...cmd, source: 'bench', id: String(++id) }, now, commit);
  engine.step(undefined, T0 - 3600_000, commit);
  for (const w of windows) run({ type: 'open', window: w }, T0);
  for (let i = 0; i < TICKETS; i++) {
    const now = T0 + Math.round(i * step);
    run({ type: 'issue', service: services[Math.floor(r() * r() * services.length)]! }, now);
    for (const w of windows) {
      if (freeAt.get(w)! > now) continue;
      const x = r();
      if (x < 0.04) run({ type: 'noShow', window: w }, now);
      else if (x < 0.08) run({ type: 'transfer', window: w, service: 'treasury' }, now);
      else if (x < 0.09) {
        run({ type: 'finish', window: w }, now);
        run({ type: 'pause', window: w, reason: 'break' }, now);
        run({ type: 'open', window: w }, now + 600_000);
        freeAt.set(w, now + 600_000);
        continue;
      }
      run({ type: 'next', window: w }, now);
      freeAt.set(w, now + 60_000 + Math.round(r() * 5 * 60_000));
    }
  }
  engine.step(undefined, Date.parse(`${addDays(DAY, 1)}T03:00:00+02:00`), commit);
  return log;
}

function time<T>(fn: () => T): { ms: number; value: T } {
  let best = Infinity;
  let value!: T;
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    value = fn();
    best = Math.min(best, performance.now() - t);
  }
  return { ms: Math.round(best * 10) / 10, value };
}

const dir = mkdtempSync(join(tmpdir(), 'qhub-bench-reports-'));
try {
  const events = makeDay();
  const store = new Store(join(dir, 'qhub.db'));
  store.open();
  store.append(events.map(({ seq, ...e }) => (void seq, e)));
  const issued = events.filter((e) => e.type === 'ticket.issued').length;

  const read = time(() => store.eventsOfDay(DAY));
  const compute = time(() => computeDay(DAY, read.value, config));
  const report = time(() => summarize({ kind: 'day', period: DAY, days: [DAY], figures: [compute.value], config }));
  const csv = time(() => toCsv(report.value, 'ar', { generatedAt: Date.now() }));
  const html = time(() => toHtml(report.value, 'ar', { generatedAt: Date.now() }));
  const dayTotal = time(() => {
    const f = computeDay(DAY, store.eventsOfDay(DAY), config);
    const rep = summarize({ kind: 'day', period: DAY, days: [DAY], figures: [f], config });
    return toHtml(rep, 'ar', { generatedAt: 0 }).length + toCsv(rep, 'en', { generatedAt: 0 }).length;
  });

  // A year of rollups: the same busy day kept 365 times.
  const f = compute.value;
  const year: string[] = [];
  for (let d = '2026-01-01'; d <= '2026-12-31'; d = addDays(d, 1)) year.push(d);
  for (const d of year) store.saveRollup(d, ROLLUP_KIND, 'all', { ...f, day: d, unavailable: f.unavailable.map((e) => ({ ...e, day: d })) } satisfies DayFigures);
  const rollupBytes = JSON.stringify(f).length;
  const load = (days: string[]) => days.map((d) => readRollup(store, d)!);
  const month = time(() => summarize({ kind: 'period', period: '2026-11', days: year.filter((d) => d.startsWith('2026-11')), figures: load(year.filter((d) => d.startsWith('2026-11'))), config }));
  const yearReport = time(() => summarize({ kind: 'period', period: '2026', days: year, figures: load(year), config }));
  const yearHtml = time(() => toHtml(yearReport.value, 'en', { generatedAt: 0 }));
  store.close();

  console.log(
    JSON.stringify(
      {
        day: { tickets: issued, events: events.length, readMs: read.ms, computeMs: compute.ms, summarizeMs: report.ms, csvMs: csv.ms, htmlMs: html.ms, totalMs: dayTotal.ms },
        rollup: { bytesPerDay: rollupBytes, monthMs: month.ms, yearMs: yearReport.ms, yearHtmlMs: yearHtml.ms, yearWaits: yearReport.value.total.wait.n },
        runs: RUNS,
        note: 'best of runs, ms; node ' + process.version,
      },
      null,
      2,
    ),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
