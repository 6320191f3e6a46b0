/**
 * Module `alerts`: what a supervisor must act on, raised by the hub itself
 * and cleared when the condition ends.
 *
 *   device.offline   a device away longer than alerts.deviceOfflineSeconds, in opening hours
 *   device.flapping  a device gone alerts.flapCount times within alerts.flapMinutes, in opening hours
 *   device.fault     a device reporting a fault (paper out...), in opening hours
 *   queue.wait       a service's longest wait over its targetWaitMinutes
 *   queue.length     more than alerts.waiting citizens waiting for one service
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

  start(): void {
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
        this.check();
      }),
      this.ctx.bus.on('device.online', this.name, ({ device }) => {
        this.away.delete(device.id);
        this.check();
      }),
    );
    this.timer = setInterval(() => this.check(), 5_000);
    this.timer.unref();
    this.check();
  }

  stop(): void {
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
    for (const s of c.services) {
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
      void this.ctx.core.note([{ type: 'alert.raised', alert: key, kind: w.kind as AlertKind, ...(w.device ? { device: w.device } : {}), ...(w.service ? { service: w.service } : {}), message: w.message }], 'hub');
    }
    for (const [key, o] of this.open) {
      if (want.has(key)) continue;
      this.open.delete(key);
      changed = true;
      this.log.info({ alert: key, ...(o.device ? { device: o.device } : {}), ...(o.service ? { service: o.service } : {}) }, `alert cleared: ${o.message}`);
      void this.ctx.core.note([{ type: 'alert.cleared', alert: key, kind: o.kind as AlertKind, ...(o.device ? { device: o.device } : {}), ...(o.service ? { service: o.service } : {}) }], 'hub');
    }
    if (changed) this.ctx.bus.emit('alerts.changed', { open: [...this.open.values()] });
  }
}
