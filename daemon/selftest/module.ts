/**
 * Module `selftest`: the supervisors' morning check of every device, as one
 * command (`qhub selftest`, the API's `hub.selftest`) and on a schedule
 * (`selftest.before` opening, by center.hours).
 *
 *   board, window display   a test pattern (`test: true`, 8888), then its real view again
 *   keypad                  a test screen, then its real screen again
 *   speaker                 the chime; answered when it says `played` for it within
 *                           `selftest.answerSeconds` (a model that never sends
 *                           `played` answers by being online)
 *   dispenser               online; a printer answers with its paper state
 *                           (a fault such as paper_out is named)
 *
 * Boards, displays and keypads send nothing back in the protocol: they answer
 * by being online when the pattern is sent to them (their link is up). The
 * report names what answered and what did not; it is kept in the event log
 * (`selftest.done`, forwarded to the backend like the rest) and as a JSON
 * file in the data directory (`selftest/<day>.json`, the day's latest).
 *
 * Owns: running the check. May touch: presence (read), the links (send), the
 * bus (listen to `speaker.played`), the core (note the event; the clock),
 * the device hub's views (to put them back).
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { CenterConfig, DeviceConfig } from '../../config/schema.js';
import { WEEKDAYS } from '../../config/schema.js';
import type { SelftestReport } from '../../contract/ports.js';
import { PROTOCOL_VERSION } from '../../contract/protocol.js';
import { modelOf } from '../../devices/index.js';
import { localTime } from '../engine/clock.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
const PATTERN = '8888';

/** When the scheduled check runs on the local day of `at` (minutes after midnight), or undefined (closed, or none configured). */
export function selftestMinute(config: CenterConfig, at: number): number | undefined {
  const before = config.selftest.before;
  if (before === undefined) return undefined;
  const local = localTime(at, config.center.timezone);
  const weekday = WEEKDAYS[new Date(`${local.date}T12:00:00Z`).getUTCDay()]!;
  const set = config.center.hours[weekday];
  const span = set === undefined ? (weekday === 'fri' || weekday === 'sat' ? 'closed' : [config.center.day.opens, config.center.day.closes]) : set;
  if (span === 'closed') return undefined;
  return Math.max(0, minutes(span[0]) - minutes(before));
}

export class SelftestModule implements HubModule {
  readonly name = 'selftest';
  private config: CenterConfig;
  private readonly log: Logger;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly waiting = new Map<string, (ok: boolean) => void>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<SelftestReport>;
  /** The local date the scheduled check last ran (or was found in the log) for. */
  private lastScheduled?: string;
  private last?: SelftestReport;

  constructor(private readonly ctx: Pick<HubContext, 'config' | 'core' | 'bus' | 'presence' | 'links' | 'log' | 'dataDir'> & { refresh(d: DeviceConfig): void }) {
    this.config = ctx.config;
    this.log = ctx.log.child({ mod: 'selftest' });
  }

  start(): void {
    this.unsubscribe.push(
      this.ctx.bus.on('speaker.played', this.name, ({ device, id }) => {
        this.waiting.get(`${device.id}/${id}`)?.(true);
      }),
      this.ctx.bus.on('device.offline', this.name, ({ device }) => {
        for (const [k, done] of this.waiting) if (k.startsWith(`${device.id}/`)) done(false);
      }),
    );
    // A check already run today (before a restart) is not run again.
    const tz = this.ctx.config.center.timezone;
    for (const e of this.ctx.core.store.eventsOfTypes(['selftest.done'])) if (e.type === 'selftest.done' && e.trigger === 'schedule') this.lastScheduled = localTime(e.at, tz).date;
    this.timer = setInterval(() => this.tick(), 20_000);
    this.timer.unref();
    this.tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const u of this.unsubscribe.splice(0)) u();
    for (const done of [...this.waiting.values()]) done(false);
    await this.running?.catch(() => undefined);
  }

  reload(config: CenterConfig): void {
    this.config = config;
  }

  health(): ModuleHealth {
    return { ok: true, detail: { ...(this.last ? { last: { at: this.last.at, ok: this.last.ok, missing: this.last.missing.map((m) => m.device) } } : {}), ...(this.config.selftest.before ? { before: this.config.selftest.before } : {}) } };
  }

  /** Runs the scheduled check once a day, at `before` opening. */
  private tick(): void {
    const at = this.ctx.core.clock();
    const when = selftestMinute(this.config, at);
    if (when === undefined) return;
    const local = localTime(at, this.config.center.timezone);
    const now = local.hour * 60 + local.minute;
    // From its minute until opening; a hub started after opening does not run it.
    if (now < when || now >= when + minutes(this.config.selftest.before!) + 1 || this.lastScheduled === local.date) return;
    this.lastScheduled = local.date;
    void this.run('schedule');
  }

  /** Runs the check (one at a time: a second request gets the running one's report). */
  run(trigger: SelftestReport['trigger']): Promise<SelftestReport> {
    this.running ??= this.check(trigger).finally(() => (this.running = undefined));
    return this.running;
  }

  private async check(trigger: SelftestReport['trigger']): Promise<SelftestReport> {
    const c = this.config;
    const s = c.selftest;
    const devices = c.devices.filter((d) => d.enabled);
    const presence = new Map(this.ctx.presence.list().map((p) => [p.id, p]));
    this.log.info({ devices: devices.length, trigger }, 'self-test: test patterns on the displays, the chime on the speakers');
    const shown: DeviceConfig[] = [];
    const results = await Promise.all(
      devices.map(async (d): Promise<SelftestReport['devices'][number]> => {
        const p = presence.get(d.id);
        const base = { device: d.id, kind: d.kind };
        if (!p?.online) return { ...base, answered: false, how: 'offline', why: `offline${p?.offlineSince ? ` since ${p.offlineSince}` : ''}${p?.why ? ` (${p.why})` : ''}` };
        const link = this.ctx.links.link(d);
        const model = modelOf(d);
        switch (d.kind) {
          case 'board': {
            const rows = Array.from({ length: model.rows ?? 4 }, () => ({ t: PATTERN, w: 888 }));
            link.send({ leaf: 'display', body: { v: PROTOCOL_VERSION, zone: d.bind.zone ?? 'hall', flash: { t: PATTERN, w: 888, seq: 0 }, rows, test: true } });
            shown.push(d);
            return { ...base, answered: true, how: 'online: test pattern sent' };
          }
          case 'display':
            link.send({ leaf: 'display', body: { v: PROTOCOL_VERSION, w: d.bind.window ?? 0, state: 'test', t: PATTERN, flash: null, test: true } });
            shown.push(d);
            return { ...base, answered: true, how: 'online: test pattern sent' };
          case 'keypad':
            link.send({ leaf: 'screen', body: { v: PROTOCOL_VERSION, w: d.bind.window ?? 0, state: 'open', t: PATTERN, status: 'test', service: null, recalls: 0, waiting: 0, served: 0, test: true } });
            shown.push(d);
            return { ...base, answered: true, how: 'online: test screen sent' };
          case 'speaker': {
            // No call has id 0 (calls carry their event's seq, from 1); one check runs at a time.
            const id = 0;
            const zone = d.bind.zone ?? c.windows.find((w) => w.number === d.bind.window)?.zone ?? 'hall';
            const confirms = model.sends.includes('played');
            const played = confirms ? this.answer(`${d.id}/${id}`, s.answerSeconds * 1000) : Promise.resolve(true);
            link.send({ leaf: 'announce', body: { v: PROTOCOL_VERSION, id, t: '', w: 0, zone, recall: false, short: false, lang: [], text: {}, clips: [{ lang: 'sound', id: 'chime' }] } });
            if (!confirms) return { ...base, answered: true, how: 'online: chime sent (this model does not confirm)' };
            return (await played) ? { ...base, answered: true, how: 'played the chime' } : { ...base, answered: false, how: 'no played', why: `did not say played for the chime within ${s.answerSeconds} s` };
          }
          case 'dispenser': {
            const printer = model.accepts.includes('ticket');
            const faults = p.faults ?? [];
            if (faults.length) return { ...base, answered: false, how: 'online', why: `reports ${faults.join(', ')}` };
            return { ...base, answered: true, how: printer ? 'online: printer reports paper (no fault)' : 'online' };
          }
          default:
            return { ...base, answered: true, how: 'online' };
        }
      }),
    );
    // The real views back, after the pattern was on long enough to be seen.
    if (shown.length) {
      await new Promise<void>((r) => setTimeout(r, s.showSeconds * 1000).unref());
      for (const d of shown) this.ctx.refresh(d);
    }
    const missing = results.filter((r) => !r.answered).map((r) => ({ device: r.device, kind: r.kind, why: r.why ?? r.how }));
    const at = this.ctx.core.clock();
    const report: SelftestReport = { at: new Date(at).toISOString(), ok: missing.length === 0, trigger, devices: results, missing };
    const noted = await this.ctx.core.note([{ type: 'selftest.done', ok: report.ok, devices: results.length, answered: results.length - missing.length, missing, trigger }], 'hub');
    if (!noted.ok) this.log.warn({ code: noted.error.code }, 'self-test report could not be written to the event log');
    try {
      const dir = join(this.ctx.dataDir, 'selftest');
      mkdirSync(dir, { recursive: true });
      const name = `selftest/${localTime(at, c.center.timezone).date}.json`;
      report.file = name;
      const file = join(this.ctx.dataDir, name);
      writeFileSync(`${file}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
      renameSync(`${file}.tmp`, file);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'self-test report could not be written to the data directory');
    }
    this.last = report;
    if (report.ok) this.log.info({ devices: results.length }, `self-test: all ${results.length} devices answered`);
    else this.log.warn({ missing: missing.map((m) => m.device) }, `self-test: ${missing.length} of ${results.length} devices did not answer: ${missing.map((m) => `${m.device} (${m.why})`).join(', ')}`);
    return report;
  }

  /** Resolves true when the speaker says played for `key`, false at the deadline or when it goes offline. */
  private answer(key: string, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), ms);
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.waiting.delete(key);
        resolve(ok);
      };
      this.waiting.set(key, finish);
    });
  }
}
