/**
 * Module `alerts`: what a supervisor must act on, raised by the hub itself
 * and cleared when the condition ends.
 *
 *   device.offline   a device away longer than alerts.deviceOfflineSeconds, in opening hours
 *   device.flapping  a device gone alerts.flapCount times within alerts.flapMinutes, in opening hours
 *   device.fault     a device reporting a fault (paper out...), in opening hours
 *   queue.wait       a service's longest wait over its targetWaitMinutes, in opening hours
 *   queue.length     more than alerts.waiting citizens waiting for one service, in opening hours
 *
 * An alert is one journal line (with the device or service), an event in
 * the log (`alert.raised` / `alert.cleared`, forwarded like the rest), the
 * retained MQTT topic qhub/hub/alerts (the broker publishes the bus's
 * `alerts.changed`), and /health, which is "degraded" while one is open.
 * Opening hours come from center.hours (by weekday, the center's time zone).
 *
 * Owns: the open alerts. May touch: presence (read), the core (read the
 * queues; note events), the bus (listen to presence, emit alerts.changed),
 * the routes port (a /health part).
 */
import type { Logger } from 'pino';
import type { CenterConfig } from '../../config/schema.js';
import { WEEKDAYS } from '../../config/schema.js';
import type { OpenAlert } from '../../contract/bus.js';
import type { AlertKind } from '../../contract/queue.js';
import { localTime } from '../engine/clock.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Presence changes within this long are checked once (see checkSoon). */
const CHECK_SOON_MS = 200;

/** Whether the center is open at `at` (its weekday's hours, in its time zone). */
export function isOpen(config: CenterConfig, at: number): boolean {
  const local = localTime(at, config.center.timezone);
  const weekday = WEEKDAYS[new Date(`${local.date}T12:00:00Z`).getUTCDay()]!;
  const set = config.center.hours[weekday];
  const span = set === undefined ? (weekday === 'fri' || weekday === 'sat' ? 'closed' : [config.center.day.opens, config.center.day.closes]) : set;
  if (span === 'closed') return false;
  const now = local.hour * 60 + local.minute;
  return now >= minutes(span[0]) && now < minutes(span[1]);
}

export class AlertsModule implements HubModule {
  readonly name = 'alerts';
  private config: CenterConfig;
  private readonly log: Logger;
  private readonly open = new Map<string, OpenAlert>();
  /** Per device: when it went away (monotonic ms) while it had been seen, and its recent departures. */
  private readonly away = new Map<string, number>();
  private readonly departures = new Map<string, number[]>();
  private readonly started = performance.now();
  private timer?: NodeJS.Timeout;
  private readonly unsubscribe: (() => void)[] = [];
  private raised = 0;
  private checks = 0;

  constructor(private readonly ctx: Pick<HubContext, 'config' | 'core' | 'bus' | 'presence' | 'routes' | 'log'>) {
    this.config = ctx.config;
    this.log = ctx.log.child({ mod: 'alerts' });
  }

  /** Alerts open in the log when the hub started: kept (not raised again) while their condition may still hold. */
  private readonly restored = new Set<string>();

  /**
   * The alerts the log says are open (raised, not cleared): they stay open
   * across a restart with their first `since`. A device alert is held while
   * the device has not had the time to reconnect (alerts.deviceOfflineSeconds
   * after the start); then it stays if its condition holds and clears if not,
   * so it is raised once, not twice.
   */
  private restore(): void {
    for (const e of this.ctx.core.store.eventsOfTypes(['alert.raised', 'alert.cleared'])) {
      if (e.type === 'alert.raised')
        this.open.set(e.alert, { alert: e.alert, kind: e.kind, ...(e.device ? { device: e.device } : {}), ...(e.service ? { service: e.service } : {}), message: e.message, since: new Date(e.at).toISOString() });
      else if (e.type === 'alert.cleared') this.open.delete(e.alert);
    }
    // Departures of today, for the flapping alert (monotonic time, as live ones).
    const wall = this.ctx.core.clock();
    const day = this.ctx.core.engine.state.day;
    for (const e of day ? this.ctx.core.store.eventsOfDay(day, ['device.offline']) : []) {
      if (e.type !== 'device.offline') continue;
      const t = this.started - (wall - e.at);
      const list = this.departures.get(e.device) ?? [];
      for (let i = 0; i < 1 + Math.floor((e.flaps ?? 0) / 2); i++) list.push(t);
      this.departures.set(e.device, list);
    }
    for (const key of this.open.keys()) this.restored.add(key);
    if (this.open.size) {
      this.log.info({ alerts: [...this.open.keys()] }, `${this.open.size} alert(s) open before the restart: kept while their condition holds`);
      this.ctx.bus.emit('alerts.changed', { open: [...this.open.values()] });
    }
  }

  start(): void {
    this.restore();
    this.ctx.routes.healthPart(() => ({
      degraded: this.open.size > 0,
      summary: { alerts: { open: this.open.size, list: [...this.open.values()] } },
    }));
    this.unsubscribe.push(
      this.ctx.bus.on('device.offline', this.name, ({ device }) => {
        const now = performance.now();
        this.away.set(device.id, now);
        const list = (this.departures.get(device.id) ?? []).filter((t) => now - t < this.config.alerts.flapMinutes * 60_000);
        list.push(now);
        this.departures.set(device.id, list);
        this.checkSoon();
      }),
      this.ctx.bus.on('device.online', this.name, ({ device }) => {
        this.away.delete(device.id);
        this.checkSoon();
      }),
    );
    this.timer = setInterval(() => this.check(), 5_000);
    this.timer.unref();
    this.check();
  }

  private soon?: NodeJS.Timeout;
  /**
   * One check for a burst of presence changes: 200 devices coming back after
   * a Wi-Fi outage made 200 checks of 200 devices each (about a second of CPU
   * on this machine, four on a Pi); what a check raises waits for minutes of
   * absence anyway (`deviceOfflineSeconds`), so a fifth of a second changes nothing.
   */
  private checkSoon(): void {
    if (this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.check();
    }, CHECK_SOON_MS);
    this.soon.unref();
  }

  stop(): void {
    clearTimeout(this.soon);
    clearInterval(this.timer);
    for (const u of this.unsubscribe.splice(0)) u();
  }

  reload(config: CenterConfig): void {
    this.config = config;
    this.check();
  }

  health(): ModuleHealth {
    return { ok: true, detail: { open: this.open.size, raisedSinceStart: this.raised, checks: this.checks } };
  }

  /** The alerts open now (the API's `alerts`, `qhub alerts`). */
  list(): OpenAlert[] {
    return [...this.open.values()];
  }

  /** Compares what should be open with what is, and raises or clears the difference. */
  check(): void {
    this.checks++;
    const c = this.config;
    const a = c.alerts;
    const at = this.ctx.core.clock();
    const now = performance.now();
    const want = new Map<string, Omit<OpenAlert, 'since'>>();
    if (isOpen(c, at)) {
      for (const d of this.ctx.presence.list()) {
        if (!d.online) {
          // Away since it left, or since the hub started when it has not been seen at all.
          const since = this.away.get(d.id) ?? this.started;
          if (now - since >= a.deviceOfflineSeconds * 1000)
            want.set(`device.offline:${d.id}`, { alert: `device.offline:${d.id}`, kind: 'device.offline', device: d.id, message: `${d.kind} ${d.id} is offline${d.why ? ` (${d.why})` : ''}` });
        } else if (d.faults?.length)
          want.set(`device.fault:${d.id}`, { alert: `device.fault:${d.id}`, kind: 'device.fault', device: d.id, message: `${d.kind} ${d.id} reports ${d.faults.join(', ')}` });
        const gone = (this.departures.get(d.id) ?? []).filter((t) => now - t < a.flapMinutes * 60_000);
        if (gone.length >= a.flapCount)
          want.set(`device.flapping:${d.id}`, { alert: `device.flapping:${d.id}`, kind: 'device.flapping', device: d.id, message: `${d.kind} ${d.id} went offline ${gone.length} times in ${a.flapMinutes} min (cable, power or Wi-Fi?)` });
      }
    }
    const engine = this.ctx.core.engine;
    // Queues are watched in opening hours only: a clock stepped at night (NTP, a test) must not page anyone.
    for (const s of isOpen(c, at) ? c.services : []) {
      const waiting = engine.waiting(s.id);
      if (a.waiting !== undefined && waiting.length > a.waiting)
        want.set(`queue.length:${s.id}`, { alert: `queue.length:${s.id}`, kind: 'queue.length', service: s.id, message: `${waiting.length} citizens wait for ${s.id} (more than ${a.waiting})` });
      if (a.longestWait && waiting.length) {
        const oldest = waiting.reduce((m, t) => Math.min(m, t.enqueuedAt), Infinity);
        const target = (s as { targetWaitMinutes?: number }).targetWaitMinutes ?? 15;
        const waited = (at - oldest) / 60_000;
        if (waited > target)
          want.set(`queue.wait:${s.id}`, { alert: `queue.wait:${s.id}`, kind: 'queue.wait', service: s.id, message: `the longest wait for ${s.id} is ${Math.round(waited)} min (target ${target})` });
      }
    }
    let changed = false;
    for (const [key, w] of want) {
      if (this.open.has(key)) continue;
      const alert: OpenAlert = { ...w, since: new Date(at).toISOString() };
      this.open.set(key, alert);
      this.raised++;
      changed = true;
      this.log.warn({ alert: key, ...(w.device ? { device: w.device } : {}), ...(w.service ? { service: w.service } : {}) }, `ALERT ${w.message}`);
      void this.ctx.core
        .note([{ type: 'alert.raised', alert: key, kind: w.kind as AlertKind, ...(w.device ? { device: w.device } : {}), ...(w.service ? { service: w.service } : {}), message: w.message }], 'hub')
        .then((r) => {
          // Its time as the log has it, the same after a restart.
          if (r.ok && r.events[0]) alert.since = new Date(r.events[0].at).toISOString();
        });
    }
    const settling = now - this.started < a.deviceOfflineSeconds * 1000 + 10_000;
    for (const [key, o] of this.open) {
      if (want.has(key)) {
        this.restored.delete(key);
        continue;
      }
      // Open before the restart, its device not back yet: it may still be away (held) or reconnecting.
      if (this.restored.has(key) && o.device && settling && isOpen(c, at) && !this.ctx.presence.isOnline(o.device)) continue;
      this.restored.delete(key);
      this.open.delete(key);
      changed = true;
      this.log.info({ alert: key, ...(o.device ? { device: o.device } : {}), ...(o.service ? { service: o.service } : {}) }, `alert cleared: ${o.message}`);
      void this.ctx.core.note([{ type: 'alert.cleared', alert: key, kind: o.kind as AlertKind, ...(o.device ? { device: o.device } : {}), ...(o.service ? { service: o.service } : {}) }], 'hub');
    }
    if (changed) this.ctx.bus.emit('alerts.changed', { open: [...this.open.values()] });
  }
}
