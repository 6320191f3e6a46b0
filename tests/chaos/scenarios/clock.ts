/**
 * The clock: the daemon under libfaketime (Debian's `faketime`), its wall
 * clock stepped by small NTP-style steps, across the daily report's time
 * twice (stepped back over it), a day forward (one rollover) and a day back.
 * Ticket numbers never reset or go back within a business day, a retried
 * press keeps its ticket, the day rolls over once per day and never back, and
 * the scheduled report and the day's rollup are written once.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningHub } from '../../helpers/hub.js';
import type { Scenario, ScenarioResult } from '../scenario.js';
import { type Ack, Children, checkLog, chaosCenter, Device, FAKETIME, freePort, readLog, sleep, startTimed, waitUntil } from '../lib.js';

const pad = (n: number) => String(n).padStart(2, '0');

/** Local wall time "HH:MM" in Cairo, `ms` from now. */
function cairo(ms: number): { hh: number; mm: number; ss: number } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone: 'Africa/Cairo', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
      .formatToParts(new Date(Date.now() + ms))
      .map((p) => [p.type, p.value]),
  );
  return { hh: Number(parts.hour), mm: Number(parts.minute), ss: Number(parts.second) };
}

export const clock: Scenario = {
  name: 'clock',
  title: 'the wall clock stepped (libfaketime): NTP steps, back over the report time, a day forward and back',
  budgetMs: { full: 300_000, short: 180_000 },
  async run(ctx): Promise<ScenarioResult> {
    if (!existsSync(FAKETIME)) return { passed: false, figures: {}, problems: [`${FAKETIME} is missing: apt-get install faketime`] };
    const children = new Children();
    const problems: string[] = [];
    const steps: string[] = [];
    try {
      // The rollover 12 h from now, the daily report 3 h from now (local Cairo time): no step but the day ones crosses the rollover.
      const roll = cairo(12 * 3600_000);
      const at = cairo(3 * 3600_000 + 60_000);
      const atOffsetS = 3 * 3600 + 60 - at.ss; // seconds from now to HH:MM:00 of the report
      const mqttPort = await freePort();
      const { config } = chaosCenter({
        mqttPort,
        edit: (doc) => {
          doc.setIn(['center', 'day', 'rollover'], `${pad(roll.hh)}:00`);
          doc.set('reports', doc.createNode({ daily: true, at: `${pad(at.hh)}:${pad(at.mm)}` }));
        },
      });
      const clockFile = join(ctx.workDir, 'faketime');
      let offset = 0;
      const setClock = (s: number, label: string) => {
        offset = s;
        writeFileSync(clockFile, `${s >= 0 ? '+' : ''}${s}`);
        steps.push(label);
        ctx.progress(`clock ${label} (offset ${s} s)`);
      };
      setClock(0, 'start');
      const dataDir = join(ctx.workDir, 'data');
      let hub: RunningHub | undefined;
      children.add(async () => hub?.kill());
      hub = (await startTimed(config, dataDir, { LD_PRELOAD: FAKETIME, FAKETIME_TIMESTAMP_FILE: clockFile, FAKETIME_NO_CACHE: '1', DONT_FAKE_MONOTONIC: '1' })).hub;
      const h = hub;
      const disp = new Device('disp-1', mqttPort);
      await disp.start();
      children.add(() => disp.close());

      const acks: Ack[] = [];
      let k = 0;
      let retries = 0;
      let retriesKept = 0;
      const signal = () => AbortSignal.any([ctx.signal, AbortSignal.timeout(30_000)]);
      const press = async (): Promise<{ id: string; t: string; day: string } | undefined> => {
        const id = `c${++k}`;
        const r = await disp.request('press', id, { service: 'intake' }, signal());
        if (r?.leaf !== 'ticket') {
          problems.push(`press ${id} at clock offset ${offset} s got ${JSON.stringify(r?.body)}`);
          return undefined;
        }
        const t = r.body.ticket as { t: string; day: string };
        acks.push({ device: 'disp-1', id, kind: 'press', number: t.t, day: t.day });
        return { id, ...t };
      };
      const retry = async (p: { id: string; t: string } | undefined, label: string) => {
        if (!p) return;
        retries++;
        const r = await disp.request('press', p.id, { service: 'intake' }, signal());
        const t = (r?.body.ticket as { t?: string } | undefined)?.t;
        if (r?.leaf === 'ticket' && r.body.duplicate === true && t === p.t) retriesKept++;
        else problems.push(`the retried press ${p.id} (ticket ${p.t}) ${label} got ${JSON.stringify(r?.body).slice(0, 200)}`);
      };

      let last: Awaited<ReturnType<typeof press>>;
      for (let i = 0; i < 5; i++) last = await press();
      const day0 = last?.day;
      // NTP-style steps, forward and back, within the day.
      const ntp = ctx.short ? [2, 1, 31, 1] : [2, 1, 31, 1, -5, 45, 0, 3, -2, 0];
      for (const s of ntp) {
        setClock(s, `${s >= offset ? '+' : ''}${s - offset} s`);
        await retry(last, `after the clock step to ${s} s`);
        for (let i = 0; i < 2; i++) last = await press();
      }

      // Just before the daily report's time; it is written once; the clock stepped back 20 s over it: not again.
      const reportLogs = () => h.logs.filter((l) => typeof l.msg === 'string' && /^report .* written$/.test(l.msg)).length;
      setClock(atOffsetS - 6, `to 6 s before the report time ${pad(at.hh)}:${pad(at.mm)}`);
      last = await press();
      if (!(await waitUntil(() => reportLogs() >= 1, 40_000, 200, ctx.signal))) problems.push('the daily report was not written when the clock passed its time');
      setClock(offset - 20, '-20 s (back over the report time)');
      await retry(last, 'after stepping back over the report time');
      last = await press();
      await sleep(30_000, ctx.signal); // the report time passes a second time
      const reports = reportLogs();
      if (reports !== 1) problems.push(`the daily report was written ${reports} times for one day`);

      // A day forward: one rollover, numbering restarts; a retry from yesterday keeps its ticket.
      const before = last;
      setClock(86_400, '+1 day');
      const first = await press();
      if (first && first.day === day0) problems.push(`a day forward, the ticket ${first.t} is still of ${day0}`);
      if (first && Number(first.t.slice(1)) !== 1) problems.push(`a day forward, the first ticket is ${first.t}, not number 1`);
      // A retry from before the step: its waiting ticket was cancelled by the rollover (leftovers: cancel), so by the
      // documented rule (daemon/engine/engine.ts) the citizen gets a ticket of the new day, once; a second retry keeps it.
      let acrossDay = 'none';
      if (before) {
        const r1 = await disp.request('press', before.id, { service: 'intake' }, signal());
        const r2 = await disp.request('press', before.id, { service: 'intake' }, signal());
        const t1 = r1?.body.ticket as { t: string; day: string } | undefined;
        const t2 = r2?.body.ticket as { t: string } | undefined;
        retries += 2;
        if (r1?.body.duplicate === true && t1?.t === before.t) (acrossDay = 'same ticket'), (retriesKept += 2);
        else if (t1 && t1.day === first?.day && r2?.body.duplicate === true && t2?.t === t1.t) {
          acrossDay = 'new ticket of the new day, kept on the next retry';
          retriesKept++;
          acks.push({ device: 'disp-1', id: before.id, kind: 'press', number: t1.t, day: t1.day });
        } else problems.push(`a press retried across the day step got ${JSON.stringify(r1?.body).slice(0, 160)} then ${JSON.stringify(r2?.body).slice(0, 160)}`);
      }
      for (let i = 0; i < 3; i++) last = await press();
      await sleep(17_000, ctx.signal); // a schedules tick (every 15 s) after the step: no second rollover
      // A day back: the business day does not go back and numbering does not restart.
      setClock(0, '-1 day');
      const back = await press();
      if (back && first && back.day !== first.day) problems.push(`a day back, the ticket is of ${back.day}, not ${first.day}: the day went back`);
      await retry(last, 'after the day step back');
      last = await press();
      await sleep(17_000, ctx.signal);
      if (!ctx.short) {
        setClock(2 * 86_400, '+2 days');
        for (let i = 0; i < 3; i++) last = await press();
        setClock(86_400, '-1 day');
        for (let i = 0; i < 3; i++) last = await press();
        await sleep(17_000, ctx.signal);
      }
      const rollups = h.logs.filter((l) => l.msg === 'day figures kept (rollup)').map((l) => String(l.day));
      await hub.stop();
      hub = undefined;

      const log = readLog(dataDir);
      const c = checkLog(log, acks);
      problems.push(...c.problems);
      const rolls = log.filter((e) => e.type === 'day.rolled') as unknown as { to: string; from: string | null }[];
      const days = rolls.map((r) => r.to);
      if (new Set(days).size !== days.length) problems.push(`a business day rolled over more than once: ${days.join(', ')}`);
      if (days.some((d, i) => i > 0 && d <= days[i - 1]!)) problems.push(`the business day went back: ${days.join(' → ')}`);
      const expectedRolls = ctx.short ? 2 : 3;
      if (days.length !== expectedRolls) problems.push(`${days.length} rollovers (${days.join(', ')}), expected ${expectedRolls}`);
      if (new Set(rollups).size !== rollups.length) problems.push(`a day's figures were kept more than once: ${rollups.join(', ')}`);
      if (rollups.length !== expectedRolls - 1) problems.push(`${rollups.length} rollups (${rollups.join(', ')}), expected ${expectedRolls - 1}`);
      // Within a business day a service's numbers only go up.
      let wentBack = 0;
      const lastN = new Map<string, number>();
      for (const e of log) {
        if (e.type !== 'ticket.issued') continue;
        const key = `${e.day}/${(e as { service: string }).service}`;
        const n = (e as { n: number }).n;
        if (n <= (lastN.get(key) ?? 0)) wentBack++;
        lastN.set(key, n);
      }
      if (wentBack) problems.push(`${wentBack} tickets had a number lower than or equal to an earlier one of the same day`);
      return {
        passed: problems.length === 0,
        problems,
        figures: {
          steps: steps.length - 1,
          tickets: acks.length,
          retries,
          retriesKept,
          acrossDay,
          rollovers: days.length,
          rollups: rollups.length,
          dailyReports: reports,
          numbersBack: wentBack,
          reused: c.reused,
          lost: c.lost,
          gaps: c.gaps,
        },
        notCovered: [
          'the clock stepped while the hub is stopped (a Pi booting without network time) is covered by tests/door.test.ts and the forwarder’s clock check, not here',
          'the weekly report and the backup schedule (node-cron) are not stepped over',
        ],
      };
    } finally {
      await children.closeAll();
    }
  },
};
