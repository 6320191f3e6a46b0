/**
 * Module `device-health`: per device, what a supervisor checks each morning —
 * when it was last heard, how often it came back today, how many of its
 * requests were refused today, the model and firmware it last reported, and
 * since when and why it is away — kept across restarts.
 *
 * Presence is in the event log (`device.online` / `device.offline`, written by
 * the device hub): this module folds those events, at start from the log and
 * then as they are committed, so a restart loses nothing and the figures
 * always agree with what the backend received. A reconnect is an `online`
 * that follows an `offline` of the same device (an `online` after the hub's
 * own restart is not one); events that stand for several changes (`flaps`)
 * count the reconnects they stand for. Refused requests are not in the log:
 * they are counted from the bus (`device.error`) and kept in the store's
 * rollups (kind `device.errors`, one row per device and day), written at
 * most every 5 s and at stop.
 *
 * It offers the Presence port the other modules read: the device hub's
 * record with `health` added to each device; and the `devices` part of
 * /health.
 *
 * Owns: the figures above. May touch: the core (read the log, the day), the
 * store's rollups, the bus (listen), the routes port (a /health part).
 */
import type { Logger } from 'pino';
import type { DeviceHealth, DevicePresence, Presence } from '../../contract/ports.js';
import type { StoredEvent } from '../../contract/queue.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';

interface Record_ {
  state?: 'on' | 'off';
  lastOnlineAt?: number;
  lastOfflineAt?: number;
  why?: string;
  model?: string;
  fw?: string;
  reconnects: number;
  errors: number;
  lastError?: { code: string; at: number };
}

const ERRORS = 'device.errors';
const FLUSH_MS = 5_000;

export class DeviceHealthModule implements HubModule, Presence {
  readonly name = 'device-health';
  private readonly log: Logger;
  private readonly records = new Map<string, Record_>();
  private day: string | null = null;
  /** Devices whose error count changed since the last write. */
  private readonly dirty = new Set<string>();
  private flushTimer?: NodeJS.Timeout;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly ctx: Pick<HubContext, 'core' | 'bus' | 'routes' | 'log'> & {
      /** The device hub's own record of who is online. */
      devices: Presence;
    },
  ) {
    this.log = ctx.log.child({ mod: 'device-health' });
  }

  start(): void {
    const store = this.ctx.core.store;
    this.day = this.ctx.core.engine.state.day;
    // Presence before today tells the last model, firmware and departure: each device's latest arrival and
    // departure of earlier days is enough for that; today's events all count (reconnects).
    const presence = ['device.online', 'device.offline'];
    const before = this.day ? store.latestPerDevice(presence, this.day, ['model', 'fw']) : store.eventsOfTypes(presence);
    const today = this.day ? store.eventsOfDay(this.day, presence) : [];
    for (const e of [...before, ...today].sort((a, b) => a.seq - b.seq)) this.fold(e);
    if (this.day)
      for (const r of store.rollups<{ count: number; last?: { code: string; at: number } }>(ERRORS, this.day, this.day)) {
        const rec = this.rec(r.key);
        rec.errors = r.data.count;
        if (r.data.last) rec.lastError = r.data.last;
      }
    this.unsubscribe.push(
      this.ctx.bus.on('committed', this.name, ({ events }) => {
        for (const e of events) this.fold(e);
      }),
      this.ctx.bus.on('device.error', this.name, ({ device, code }) => {
        const rec = this.rec(device.id);
        rec.errors++;
        rec.lastError = { code, at: this.ctx.core.clock() };
        this.dirty.add(device.id);
        this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
        this.flushTimer.unref?.();
      }),
    );
    this.ctx.routes.healthPart(() => ({ summary: { devices: this.summary() } }));
  }

  stop(): void {
    for (const u of this.unsubscribe.splice(0)) u();
    this.flush();
  }

  health(): ModuleHealth {
    return { ok: true, detail: { day: this.day, devices: this.records.size } };
  }

  private rec(id: string): Record_ {
    let r = this.records.get(id);
    if (!r) this.records.set(id, (r = { reconnects: 0, errors: 0 }));
    return r;
  }

  /** Takes one event of the log into the figures (the same at start and live). */
  private fold(e: StoredEvent): void {
    if (e.type === 'day.rolled') {
      this.flush();
      this.day = e.to;
      for (const r of this.records.values()) {
        r.reconnects = 0;
        r.errors = 0;
        delete r.lastError;
      }
      return;
    }
    if (e.type !== 'device.online' && e.type !== 'device.offline') return;
    const r = this.rec(e.device);
    const today = e.day === this.day;
    const to = e.type === 'device.online' ? 'on' : 'off';
    if (today) r.reconnects += comebacks(r.state, to, e.flaps ?? 0);
    r.state = to;
    if (e.type === 'device.online') {
      r.lastOnlineAt = e.at;
      if (e.model) r.model = e.model;
      if (e.fw) r.fw = e.fw;
    } else {
      r.lastOfflineAt = e.since ?? e.at;
      if (e.why) r.why = e.why;
      else delete r.why;
    }
  }

  /** Writes the changed error counts of the day (a small row per device). */
  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (!this.dirty.size || !this.day) return this.dirty.clear();
    const store = this.ctx.core.store;
    try {
      for (const id of this.dirty) {
        const r = this.records.get(id);
        if (r) store.saveRollup(this.day, ERRORS, id, { count: r.errors, ...(r.lastError ? { last: r.lastError } : {}) });
      }
      this.dirty.clear();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'device error counts could not be written; trying again at the next error');
    }
  }

  /** A device's health as people see it, next to its presence. */
  healthOf(d: DevicePresence): DeviceHealth {
    const r = this.records.get(d.id);
    const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
    const lastSeen = d.online ? new Date(this.ctx.core.clock()).toISOString() : iso(r?.lastOfflineAt ?? r?.lastOnlineAt);
    const away = !d.online && r?.state === 'off';
    return {
      ...(lastSeen ? { lastSeen } : {}),
      reconnectsToday: r?.reconnects ?? 0,
      errorsToday: r?.errors ?? 0,
      ...(r?.lastError ? { lastError: { code: r.lastError.code, at: new Date(r.lastError.at).toISOString() } } : {}),
      ...(r?.model ? { model: r.model } : {}),
      ...(r?.fw ? { fw: r.fw } : {}),
      ...(away && r?.lastOfflineAt !== undefined ? { offlineSince: iso(r.lastOfflineAt), ...(r.why ? { why: r.why } : {}) } : {}),
    };
  }

  // ------------------------------------------------------------ the Presence port, with health

  isOnline(id: string): boolean {
    return this.ctx.devices.isOnline(id);
  }

  list(): DevicePresence[] {
    return this.ctx.devices.list().map((d) => {
      const health = this.healthOf(d);
      // Away since before a restart: the device hub has no record of it, the log has.
      const since = !d.online && !d.offlineSince && health.offlineSince ? { offlineSince: health.offlineSince, ...(health.why ? { why: health.why } : {}) } : {};
      return { ...d, ...since, ...(!d.online && !d.fw && health.fw ? { fw: health.fw } : {}), health };
    });
  }

  /** The `devices` part of /health. */
  private summary(): Record<string, unknown> {
    const list = this.list().map(({ id, kind, transport, online, since, model, fw, faults, offlineSince, why, health }) => ({
      id,
      kind,
      transport,
      online,
      ...(online ? { since, model, fw, ...(faults?.length ? { faults } : {}) } : { ...(fw ? { fw } : {}) }),
      ...(offlineSince ? { offlineSince, why } : {}),
      lastSeen: health?.lastSeen,
      reconnectsToday: health?.reconnectsToday ?? 0,
      errorsToday: health?.errorsToday ?? 0,
    }));
    const online = list.filter((d) => d.online).length;
    const faulty = list.filter((d) => 'faults' in d && (d.faults as string[] | undefined)?.length).length;
    return { online, offline: list.length - online, faulty, list };
  }
}

/**
 * How many times a device came back between two recorded states: `flaps`
 * changes were not written one by one, so the changes between them are
 * `flaps` or `flaps + 1`, whichever matches going from `from` to `to`
 * (online and offline alternate); every other change from offline is a
 * comeback.
 */
export function comebacks(from: 'on' | 'off' | undefined, to: 'on' | 'off', flaps: number): number {
  if (from === undefined) return 0;
  const differ = from !== to;
  const n = flaps % 2 === (differ ? 1 : 0) ? flaps : flaps + 1;
  return from === 'off' ? Math.ceil(n / 2) : Math.floor(n / 2);
}
