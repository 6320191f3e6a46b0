/**
 * Business days across midnight, the rollover time and daylight-saving
 * changes, driven by a fake clock: exactly one rollover per calendar day,
 * never two, never a day skipped, numbering restarting each time.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkCenterText, formatProblem } from '../config/load.js';
import type { CenterConfig } from '../config/schema.js';
import { addDays, businessDay, localHour, localTime } from '../daemon/engine/clock.js';
import { Engine } from '../daemon/engine/engine.js';
import type { QueueEvent } from '../contract/queue.js';
import { runStep } from './helpers/engine-run.js';

const EXAMPLE = readFileSync(new URL('../config/center.example.yaml', import.meta.url), 'utf8');

function center(timezone: string, rollover: string): CenterConfig {
  const { config, problems } = checkCenterText(EXAMPLE, 'center.example.yaml');
  if (!config) throw new Error(problems.map(formatProblem).join('\n'));
  config.center.timezone = timezone;
  config.center.day.rollover = rollover;
  return config;
}

const MIN = 60_000;
const utc = (iso: string): number => Date.parse(`${iso}Z`);

interface Roll {
  at: string;
  from: string | null;
  to: string;
  /** Number of the first ticket issued right after the rollover. */
  first: string;
}

/**
 * Runs a hub minute by minute from `from` to `to` (UTC), pressing "open" at
 * window 1 each minute and issuing a ticket every 20 minutes; returns every
 * rollover and checks on the way that the day never goes back.
 */
function simulate(config: CenterConfig, from: string, to: string): { rolls: Roll[]; engine: Engine; log: QueueEvent[] } {
  const engine = new Engine(config);
  const rolls: Roll[] = [];
  const log: QueueEvent[] = [];
  let lastDay = '';
  for (let now = utc(from), i = 0; now <= utc(to); now += MIN, i++) {
    const r = runStep(engine, { type: 'open', window: 1 }, now);
    if (!r.ok) throw new Error(r.error.message);
    log.push(...(r.stamped ?? []));
    const rolled = (r.stamped ?? []).find((e) => e.type === 'day.rolled');
    const issueNow = rolled !== undefined || i % 20 === 0;
    if (issueNow) {
      const t = runStep(engine, { type: 'issue', service: 'intake' }, now);
      if (!t.ok) throw new Error(t.error.message);
      log.push(...(t.stamped ?? []));
      const ticket = engine.state.tickets[t.ticket!]!;
      expect(ticket.day).toBe(engine.state.day);
      if (rolled && rolled.type === 'day.rolled')
        rolls.push({ at: new Date(now).toISOString().slice(0, 16), from: rolled.from, to: rolled.to, first: ticket.number });
    }
    expect(engine.state.day! >= lastDay).toBe(true);
    lastDay = engine.state.day!;
  }
  return { rolls, engine, log };
}

/** Every day from the first roll's label on, one after the other. */
function expectConsecutive(rolls: Roll[]): void {
  for (let i = 1; i < rolls.length; i++) {
    expect(rolls[i]!.from).toBe(rolls[i - 1]!.to);
    expect(rolls[i]!.to).toBe(addDays(rolls[i - 1]!.to, 1));
  }
  for (const r of rolls) expect(r.first).toBe('A001');
}

describe('clock helpers', () => {
  it('reads the local wall clock of the center, not UTC', () => {
    expect(localTime(utc('2024-01-15T22:30'), 'Africa/Cairo')).toEqual({ date: '2024-01-16', hour: 0, minute: 30 });
    expect(localHour(utc('2024-07-01T06:00'), 'Africa/Cairo')).toBe(9); // summer time, UTC+3
    expect(localHour(utc('2024-01-01T06:00'), 'Africa/Cairo')).toBe(8);
  });

  it('adds days across months, leap days and years', () => {
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2024-03-01', -1)).toBe('2024-02-29');
    expect(addDays('2024-12-31', 1)).toBe('2025-01-01');
  });

  it('counts the hours before the rollover time as the previous business day', () => {
    // 02:59 and 03:00 local Cairo on 2024-01-16 (UTC+2).
    expect(businessDay(utc('2024-01-16T00:59'), 'Africa/Cairo', '03:00')).toBe('2024-01-15');
    expect(businessDay(utc('2024-01-16T01:00'), 'Africa/Cairo', '03:00')).toBe('2024-01-16');
    // With rollover at midnight the business day is the calendar day.
    expect(businessDay(utc('2024-01-15T21:59'), 'Africa/Cairo', '00:00')).toBe('2024-01-15');
    expect(businessDay(utc('2024-01-15T22:00'), 'Africa/Cairo', '00:00')).toBe('2024-01-16');
  });

  it('the time zone data knows the 2024 Cairo summer time (UTC+3 from 26 April to 31 October)', () => {
    expect(localTime(utc('2024-04-25T21:59'), 'Africa/Cairo')).toEqual({ date: '2024-04-25', hour: 23, minute: 59 });
    expect(localTime(utc('2024-04-25T22:00'), 'Africa/Cairo')).toEqual({ date: '2024-04-26', hour: 1, minute: 0 });
    expect(localTime(utc('2024-10-31T20:59'), 'Africa/Cairo')).toEqual({ date: '2024-10-31', hour: 23, minute: 59 });
    expect(localTime(utc('2024-10-31T21:00'), 'Africa/Cairo')).toEqual({ date: '2024-10-31', hour: 23, minute: 0 });
  });
});

describe('rollover across midnight with a fake clock', () => {
  it('rolls over at 03:00 Cairo, not at midnight, once a day', () => {
    const { rolls } = simulate(center('Africa/Cairo', '03:00'), '2024-01-15T06:00', '2024-01-18T06:00');
    expect(rolls).toEqual([
      { at: '2024-01-15T06:00', from: null, to: '2024-01-15', first: 'A001' },
      { at: '2024-01-16T01:00', from: '2024-01-15', to: '2024-01-16', first: 'A001' },
      { at: '2024-01-17T01:00', from: '2024-01-16', to: '2024-01-17', first: 'A001' },
      { at: '2024-01-18T01:00', from: '2024-01-17', to: '2024-01-18', first: 'A001' },
    ]);
  });

  it('numbering goes on through midnight until the rollover time', () => {
    const { log } = simulate(center('Africa/Cairo', '03:00'), '2024-01-15T20:00', '2024-01-16T02:00');
    const numbers = log.flatMap((e) => (e.type === 'ticket.issued' ? [e.number] : []));
    // 20:00Z–00:59Z every 20 min is the 15th (22:00–02:59 local); 01:00Z starts the 16th.
    expect(numbers.slice(0, 15)).toEqual(Array.from({ length: 15 }, (_, i) => `A${String(i + 1).padStart(3, '0')}`));
    expect(numbers[15]).toBe('A001');
    expect(log.filter((e) => e.type === 'day.rolled').map((e) => e.day)).toEqual(['2024-01-15', '2024-01-16']);
  });
});

describe('daylight saving: Africa/Cairo 2024', () => {
  it('rollover 00:00 when spring skips midnight (Fri 26 April 00:00 → 01:00)', () => {
    const { rolls } = simulate(center('Africa/Cairo', '00:00'), '2024-04-24T12:00', '2024-04-27T12:00');
    expect(rolls.map(({ at, to }) => [at, to])).toEqual([
      ['2024-04-24T12:00', '2024-04-24'],
      ['2024-04-24T22:00', '2024-04-25'], // 00:00 EET
      ['2024-04-25T22:00', '2024-04-26'], // 01:00 EEST: midnight did not exist
      ['2024-04-26T21:00', '2024-04-27'], // 00:00 EEST
    ]);
    expectConsecutive(rolls);
  });

  it('rollover 03:00 across the spring change', () => {
    const { rolls } = simulate(center('Africa/Cairo', '03:00'), '2024-04-24T12:00', '2024-04-27T12:00');
    expect(rolls.map(({ at, to }) => [at, to])).toEqual([
      ['2024-04-24T12:00', '2024-04-24'],
      ['2024-04-25T01:00', '2024-04-25'], // 03:00 EET
      ['2024-04-26T00:00', '2024-04-26'], // 03:00 EEST
      ['2024-04-27T00:00', '2024-04-27'],
    ]);
    expectConsecutive(rolls);
  });

  it('rollover 00:00 when autumn repeats the last hour of Thu 31 October (24:00 → 23:00)', () => {
    const { rolls } = simulate(center('Africa/Cairo', '00:00'), '2024-10-29T12:00', '2024-11-02T12:00');
    expect(rolls.map(({ at, to }) => [at, to])).toEqual([
      ['2024-10-29T12:00', '2024-10-29'],
      ['2024-10-29T21:00', '2024-10-30'], // 00:00 EEST
      ['2024-10-30T21:00', '2024-10-31'],
      ['2024-10-31T22:00', '2024-11-01'], // 00:00 EET, after the repeated hour
      ['2024-11-01T22:00', '2024-11-02'],
    ]);
    expectConsecutive(rolls);
  });

  it('rollover 03:00 across the autumn change', () => {
    const { rolls } = simulate(center('Africa/Cairo', '03:00'), '2024-10-29T12:00', '2024-11-02T12:00');
    expect(rolls.map(({ at, to }) => [at, to])).toEqual([
      ['2024-10-29T12:00', '2024-10-29'],
      ['2024-10-30T00:00', '2024-10-30'], // 03:00 EEST
      ['2024-10-31T00:00', '2024-10-31'],
      ['2024-11-01T01:00', '2024-11-01'], // 03:00 EET
      ['2024-11-02T01:00', '2024-11-02'],
    ]);
    expectConsecutive(rolls);
  });

  it('the repeated hour does not restart numbering', () => {
    const engine = new Engine(center('Africa/Cairo', '00:00'));
    const issue = (iso: string) => {
      const r = runStep(engine, { type: 'issue', service: 'intake' }, utc(iso));
      if (!r.ok) throw new Error(r.error.message);
      return { number: engine.state.tickets[r.ticket!]!.number, rolled: (r.stamped ?? []).some((e) => e.type === 'day.rolled') };
    };
    expect(issue('2024-10-31T20:30')).toEqual({ number: 'A001', rolled: true }); // 23:30 EEST
    expect(issue('2024-10-31T21:30')).toEqual({ number: 'A002', rolled: false }); // 23:30 EET, again
    expect(issue('2024-10-31T22:00')).toEqual({ number: 'A001', rolled: true }); // 00:00 EET, 1 November
    expect(engine.state.day).toBe('2024-11-01');
  });
});

describe('daylight saving: Europe/Berlin 2024, rollover 02:30 inside the changing hour', () => {
  it('spring (31 March, 02:00 → 03:00): 02:30 never happens, the day still rolls over once', () => {
    const { rolls } = simulate(center('Europe/Berlin', '02:30'), '2024-03-29T12:00', '2024-04-01T12:00');
    expect(rolls.map(({ at, to }) => [at, to])).toEqual([
      ['2024-03-29T12:00', '2024-03-29'],
      ['2024-03-30T01:30', '2024-03-30'], // 02:30 CET
      ['2024-03-31T01:00', '2024-03-31'], // 03:00 CEST, the first minute past 02:30
      ['2024-04-01T00:30', '2024-04-01'], // 02:30 CEST
    ]);
    expectConsecutive(rolls);
  });

  it('autumn (27 October, 03:00 → 02:00): 02:30 happens twice, the day rolls over once', () => {
    const { rolls } = simulate(center('Europe/Berlin', '02:30'), '2024-10-25T12:00', '2024-10-28T12:00');
    expect(rolls.map(({ at, to }) => [at, to])).toEqual([
      ['2024-10-25T12:00', '2024-10-25'],
      ['2024-10-26T00:30', '2024-10-26'], // 02:30 CEST
      ['2024-10-27T00:30', '2024-10-27'], // 02:30 CEST, the first time
      ['2024-10-28T01:30', '2024-10-28'], // 02:30 CET
    ]);
    expectConsecutive(rolls);
  });

  it('autumn: between the two 02:30s the numbering goes on under the new day', () => {
    const engine = new Engine(center('Europe/Berlin', '02:30'));
    const issue = (iso: string) => {
      const r = runStep(engine, { type: 'issue', service: 'intake' }, utc(iso));
      if (!r.ok) throw new Error(r.error.message);
      const t = engine.state.tickets[r.ticket!]!;
      return [t.number, t.day];
    };
    expect(issue('2024-10-26T20:00')).toEqual(['A001', '2024-10-26']);
    expect(issue('2024-10-27T00:30')).toEqual(['A001', '2024-10-27']); // 02:30 CEST
    expect(issue('2024-10-27T01:10')).toEqual(['A002', '2024-10-27']); // 02:10 CET: wall clock is before 02:30 again
    expect(issue('2024-10-27T01:30')).toEqual(['A003', '2024-10-27']); // 02:30 CET, the second time
    expect(issue('2024-10-27T09:00')).toEqual(['A004', '2024-10-27']);
  });
});
