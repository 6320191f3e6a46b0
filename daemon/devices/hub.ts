/**
 * The device hub: turns device requests into engine commands and answers
 * them from the command's own result; turns committed events into what
 * devices show. It reaches every device through its link (daemon/devices/link.ts),
 * whatever carries it, and reads each device's model definition to know
 * what the device sends and accepts.
 *
 * Owns: the views last sent, the day's recent calls, which devices are
 * online. May touch: the core (execute), the links, the bus (listens to
 * `committed`; emits `device.online`/`device.offline`).
 */
import type { Logger } from 'pino';
import type { CenterConfig, DeviceConfig } from '../../config/schema.js';
import type { DevicePresence, FallbackPort, Presence as PresencePort } from '../../contract/ports.js';
import { modelOf } from '../../devices/index.js';
import type { CoreResult } from '../../contract/ports.js';
import type { Command, EventBody, StoredEvent, Ticket } from '../../contract/queue.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';
import { Bucket } from '../spine/bucket.js';
import { Throttle } from '../spine/throttle.js';
import type { DeviceLink, InLeaf, LinkListener, OutLeaf, OutMessage, OutMessages } from '../../contract/devices.js';
import type { z } from 'zod';
import { describeIssues, KEYPAD_COMMANDS, KeypadCommand, Played, Press, PROTOCOL_VERSION, ALL_ERRORS, Status, type ProtocolErrorCode } from '../../contract/protocol.js';
import { boardShape, boardView, keypadView, RecentCalls, ticketView, windowView, zonesOf, type View } from './views.js';
import { Coalescer, realClock } from './coalesce.js';
import { CALL_EVENT_TYPES } from '../../contract/calls.js';

/** What `track` reads of the day's log: its calls (and a rollover, which clears them). */
const TRACKED = ['day.rolled', ...CALL_EVENT_TYPES];

/**
 * The least time between two sends of a view to one device when the change
 * can wait (a keypad's waiting count, board rows going away): newest wins,
 * at most 4 a second per device. A reply, a call or a flash is never held.
 */
export const VIEW_INTERVAL_MS = 250;

/**
 * A fan-out to many devices gives the event loop a turn after this much work
 * (ms), so requests that arrived meanwhile are decided and answered first.
 */
export const FANOUT_SLICE_MS = 1;

/** Fields of a view that change often and that nobody acts on at once, by device kind (see `Coalescer`). */
const VOLATILE: Partial<Record<DeviceConfig['kind'], readonly string[]>> = { keypad: ['waiting'], board: ['rows'] };

/** Whether `next` differs from `prev` only in fields that may wait. */
function onlyVolatile(kind: DeviceConfig['kind'], prev: View, next: View): boolean {
  const volatile = VOLATILE[kind];
  if (!volatile) return false;
  const a = prev as unknown as Record<string, unknown>;
  const b = next as unknown as Record<string, unknown>;
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (volatile.includes(k) || k === 'rev' || k === 're') continue;
    const x = a[k];
    const y = b[k];
    if (x !== y && (typeof x !== 'object' || typeof y !== 'object' || JSON.stringify(x) !== JSON.stringify(y))) return false;
  }
  return true;
}

interface Presence {
  since: number;
  model?: string;
  fw?: string;
  /** What a person must fix (a printer out of paper); empty or absent when all is well. */
  faults?: string[];
}

export class DeviceHub implements HubModule, LinkListener, PresencePort, FallbackPort {
  readonly name = 'devices';
  readonly essential = true;
  private recent: RecentCalls;
  /** Per device: the last view sent, its JSON and its revision (which goes up by one each time the content changes). */
  private readonly lastSent = new Map<string, { key: string; rev: number; view: View }>();
  /** Per device: views that may wait are sent at a bounded rate (VIEW_INTERVAL_MS). */
  private readonly coalescer = new Coalescer<string>(realClock(VIEW_INTERVAL_MS));
  private readonly lastCallSeq = new Map<number, number>();
  private readonly links = new Map<string, DeviceLink>();
  private readonly presence = new Map<string, Presence>();
  /** Devices that were online and went away: since when, and why (for /health). */
  private readonly gone = new Map<string, { since: number; why?: string }>();
  private readonly errors = new Throttle(1000);
  private devices: DeviceConfig[];
  /** Which devices show what: a committed event touches a window, a service or a zone, and only their devices are recomputed. */
  private readonly showing = {
    window: new Map<number, DeviceConfig[]>(),
    service: new Map<string, DeviceConfig[]>(),
    zone: new Map<string, DeviceConfig[]>(),
  };
  private zoneOf: Map<number, string>;
  /** Per device: the key of the view it shares with devices that show the same (see shareKey). */
  private readonly shareKeys = new Map<string, string>();
  private config: CenterConfig;
  private readonly core: HubContext['core'];
  private readonly log: Logger;
  private unsubscribe?: () => void;
  private revBase = 0;

  constructor(private readonly ctx: HubContext) {
    this.config = ctx.config;
    this.core = ctx.core;
    this.log = ctx.log.child({ mod: 'devices' });
    this.recent = new RecentCalls(ctx.config);
    this.devices = ctx.config.devices.filter((d) => d.enabled);
    this.zoneOf = zonesOf(ctx.config);
    this.indexDevices();
  }

  /** Which devices show which window and zone (from the config). */
  private indexDevices(): void {
    this.showing.window.clear();
    this.showing.zone.clear();
    this.shareKeys.clear();
    for (const d of this.devices) {
      const k = this.shareKey(d);
      if (k !== undefined) this.shareKeys.set(d.id, k);
    }
    const add = <K>(m: Map<K, DeviceConfig[]>, k: K, d: DeviceConfig) => m.set(k, [...(m.get(k) ?? []), d]);
    for (const d of this.devices) {
      const w = d.bind.window;
      if (d.kind === 'keypad' && w !== undefined) {
        add(this.showing.window, w, d);
      } else if (d.kind === 'display' && w !== undefined) add(this.showing.window, w, d);
      else if (d.kind === 'board') add(this.showing.zone, d.bind.zone ?? this.zoneOf.get(w ?? -1) ?? 'hall', d);
    }
  }

  /**
   * A reloaded config: devices added, removed or changed (binding, model),
   * windows and zones. Queue state is the core's and is untouched; every
   * device whose view changed gets it, a new device gets its first one.
   * A removed device is forgotten (its transport disconnects it).
   */
  reload(config: CenterConfig): void {
    const before = new Map(this.devices.map((d) => [d.id, JSON.stringify(d)]));
    this.config = config;
    this.devices = config.devices.filter((d) => d.enabled);
    this.zoneOf = zonesOf(config);
    this.indexDevices();
    this.indexServices();
    const now = new Set(this.devices.map((d) => d.id));
    for (const id of before.keys()) {
      if (now.has(id)) continue;
      for (const m of [this.links, this.presence, this.gone, this.lastSent, this.recorded, this.presenceRate, this.flaps] as Map<string, unknown>[]) m.delete(id);
      this.coalescer.forget(id);
    }
    // Calls shown on boards follow the windows' zones as they are now.
    this.recent = new RecentCalls(config);
    this.lastCallSeq.clear();
    const day = this.core.engine.state.day;
    if (day) for (const e of this.core.store.eventsOfDay(day, TRACKED)) this.track(e);
    for (const d of this.devices) {
      const fresh = before.get(d.id) !== JSON.stringify(d);
      if (fresh) this.links.set(d.id, this.ctx.links.link(d));
      const v = this.view(d);
      if (v) this.send(d, v, { force: fresh });
    }
  }

  private running = false;

  /** A keypad shows how many wait for its window's services: which services those are now (they change with `assign`). */
  private indexServices(): void {
    this.showing.service.clear();
    for (const d of this.devices) {
      if (d.kind !== 'keypad' || d.bind.window === undefined) continue;
      for (const s of this.core.engine.servicesOf(d.bind.window)) this.showing.service.set(s, [...(this.showing.service.get(s) ?? []), d]);
    }
  }

  start(): void {
    this.running = true;
    this.indexServices();
    this.revBase = this.core.store.lastSeq;
    for (const d of this.devices) this.links.set(d.id, this.ctx.links.link(d));
    const day = this.core.engine.state.day;
    if (day) for (const e of this.core.store.eventsOfDay(day, TRACKED)) this.track(e);
    this.unsubscribe = this.ctx.bus.on('committed', this.name, ({ events }) => this.committed(events));
    this.ctx.links.listen(this);
    this.refresh(true);
  }

  stop(): void {
    // Presence changes held back by a flapping device are written now, while the core still runs.
    clearTimeout(this.settleTimer);
    this.settle(true);
    this.running = false;
    this.coalescer.stop();
    this.ctx.links.listen(undefined);
    this.unsubscribe?.();
  }

  /** Every enabled device with its presence (the Presence port). */
  list(): DevicePresence[] {
    return this.devices.map((d) => {
      const o = this.presence.get(d.id);
      const gone = !o ? this.gone.get(d.id) : undefined;
      return {
        id: d.id,
        kind: d.kind,
        model: d.model,
        transport: d.transport.type,
        enabled: d.enabled,
        online: !!o,
        bind: d.bind,
        ...(o ? { since: new Date(o.since).toISOString(), ...(o.model ? { model: o.model } : {}), ...(o.fw ? { fw: o.fw } : {}), ...(o.faults?.length ? { faults: o.faults } : {}) } : {}),
        ...(gone ? { offlineSince: new Date(gone.since).toISOString(), ...(gone.why ? { why: gone.why } : {}) } : {}),
      };
    });
  }

  health(): ModuleHealth {
    const list = this.list().map(({ id, kind, transport, online, since, model, fw, faults, offlineSince, why }) => ({
      id,
      kind,
      transport,
      online,
      ...(online ? { since, model, fw, ...(faults?.length ? { faults } : {}) } : {}),
      ...(offlineSince ? { offlineSince, why } : {}),
    }));
    const online = list.filter((d) => d.online).length;
    const faulty = list.filter((d) => d.faults?.length).length;
    return { ok: true, summary: { devices: { online, offline: list.length - online, faulty, list } }, detail: { viewSends: this.viewSends() } };
  }

  private readonly loggers = new Map<string, Logger>();
  private logOf(d: DeviceConfig): Logger {
    let l = this.loggers.get(d.id);
    if (!l) this.loggers.set(d.id, (l = this.log.child({ device: d.id })));
    return l;
  }

  private prints = 0;
  /**
   * Sends a ticket to a dispenser's printer: the one named, else the one that
   * issued it, else an online dispenser of its service. The message carries a
   * new `re` starting with "hub:" (docs/PROTOCOL.md: a ticket the device did not
   * ask for, printed once per id).
   */
  print(t: Ticket, id?: string): { ok: true; device: string } | { ok: false; code: 'unknown_device' | 'no_printer' | 'offline'; message: string } {
    const named = id !== undefined ? this.devices.find((d) => d.id === id) : undefined;
    if (id !== undefined && !named) return { ok: false, code: 'unknown_device', message: `no enabled device "${id}"` };
    const prints = (d: DeviceConfig) => d.kind === 'dispenser' && modelOf(d).accepts.includes('ticket');
    const candidates = named
      ? [named]
      : [...this.devices.filter((d) => d.id === t.device), ...this.devices.filter((d) => d.id !== t.device && (d.bind.services ?? []).includes(t.service))].filter(prints);
    if (!candidates.some(prints)) return { ok: false, code: 'no_printer', message: named ? `${named.id} is not a dispenser with a printer` : `no dispenser prints ${t.service} tickets` };
    const d = candidates.find((x) => prints(x) && this.presence.has(x.id));
    if (!d) return { ok: false, code: 'offline', message: `${candidates.map((x) => x.id).join(', ')}: offline; print it elsewhere or show it on screen` };
    this.deliver(d, { leaf: 'ticket', body: { v: PROTOCOL_VERSION, re: `hub:print:${++this.prints}:${t.number}`, duplicate: false, ticket: ticketView(this.config, t) } });
    this.logOf(d).info({ ticket: t.number }, 'ticket sent to the printer');
    return { ok: true, device: d.id };
  }

  // ------------------------------------------------------------ fallbacks (daemon/fallbacks decides)

  private readonly flashSec = new Map<string, number>();
  private readonly covered = new Map<string, string[]>();

  setFlash(zone: string, seconds: number | undefined): void {
    if (this.flashSec.get(zone) === seconds) return;
    if (seconds === undefined) this.flashSec.delete(zone);
    else this.flashSec.set(zone, seconds);
    for (const d of this.showing.zone.get(zone) ?? []) {
      const v = this.view(d);
      if (v) this.send(d, v, { force: false });
    }
  }

  setCovered(dispenser: string, services: string[]): void {
    if (services.length) this.covered.set(dispenser, services);
    else this.covered.delete(dispenser);
  }

  /** Whether a device is online now (the one record of presence; other modules ask here). */
  isOnline(id: string): boolean {
    return this.presence.has(id);
  }

  // ------------------------------------------------------------ from the links

  online(d: DeviceConfig, info: { model?: string; fw?: string; faults?: string[] }): void {
    // Called again when a device's condition changes: it stays online since it first came.
    const since = this.presence.get(d.id)?.since ?? Date.now();
    this.gone.delete(d.id);
    this.presence.set(d.id, { since, ...info });
    this.ctx.bus.emit('device.online', { device: d, ...info });
    this.logPresence(d);
  }

  offline(d: DeviceConfig, why?: string): void {
    if (!this.presence.delete(d.id)) return;
    this.gone.set(d.id, { since: Date.now(), ...(why ? { why } : {}) });
    this.ctx.bus.emit('device.offline', { device: d });
    this.logPresence(d);
  }

  // ------------------------------------------------------------ presence in the event log

  /** Per device: what the log last says of it ("on:<faults>" or "off"). */
  private readonly recorded = new Map<string, string>();
  private readonly presenceRate = new Map<string, Bucket>();
  private readonly unsettled = new Set<string>();
  private settleTimer?: NodeJS.Timeout;
  /** Changes not written one by one because a device flapped; the next event written says how many. */
  private readonly flaps = new Map<string, number>();

  /**
   * Writes a device's presence into the event log when it changed (online,
   * offline, faults), so health reports and the backend see it. A device
   * that flaps is written at most once every 10 s after a burst of 6; the
   * changes in between are counted (`flaps`) and its state at the end is
   * always written.
   */
  private logPresence(d: DeviceConfig, force = false): void {
    if (!this.running) return;
    const p = this.presence.get(d.id);
    const key = p ? `on:${(p.faults ?? []).join(',')}` : 'off';
    if (this.recorded.get(d.id) === key) return;
    let b = this.presenceRate.get(d.id);
    if (!b) this.presenceRate.set(d.id, (b = new Bucket(0.1, 6)));
    if (!b.take() && !force) {
      this.flaps.set(d.id, (this.flaps.get(d.id) ?? 0) + 1);
      this.unsettled.add(d.id);
      this.settleTimer ??= setTimeout(() => this.settle(), 10_000);
      this.settleTimer.unref?.();
      return;
    }
    this.recorded.set(d.id, key);
    const flaps = this.flaps.get(d.id);
    this.flaps.delete(d.id);
    const gone = this.gone.get(d.id);
    const body: EventBody = p
      ? { type: 'device.online', device: d.id, kind: d.kind, ...(p.model ? { model: p.model } : {}), ...(p.fw ? { fw: p.fw } : {}), ...(p.faults?.length ? { faults: p.faults } : {}), ...(flaps ? { flaps } : {}) }
      : { type: 'device.offline', device: d.id, kind: d.kind, ...(gone?.why ? { why: gone.why } : {}), ...(flaps ? { flaps } : {}), ...(flaps && gone ? { since: gone.since } : {}) };
    void this.core.note([body], 'hub').then((r) => {
      if (!r.ok) {
        // Not on disk: try again at the next change or settle.
        this.recorded.delete(d.id);
        this.logOf(d).warn({ code: r.error.code }, 'device presence could not be written to the event log');
      }
    });
  }

  private settle(force = false): void {
    this.settleTimer = undefined;
    const ids = [...this.unsettled];
    this.unsettled.clear();
    for (const id of ids) {
      const d = this.devices.find((x) => x.id === id);
      if (d) this.logPresence(d, force);
    }
  }

  private readonly quiet = new Throttle(10_000);

  /** A device's `status` message: online (with model, firmware, faults) or offline; false when it is not a valid status. */
  status(d: DeviceConfig, payload: Buffer): boolean {
    let status: z.infer<typeof Status>;
    try {
      const parsed = Status.safeParse(JSON.parse(payload.toString('utf8')));
      if (!parsed.success) throw new Error(describeIssues(parsed.error));
      status = parsed.data;
    } catch (e) {
      this.error(d, undefined, 'bad_payload', `status: ${(e as Error).message}`);
      return false;
    }
    const log = this.logOf(d);
    if (status.state === 'online') {
      const q = this.quiet.pass(`online/${d.id}`);
      if (q.ok) log.debug({ model: status.model, fw: status.fw, ...(q.held ? { more: q.held } : {}) }, 'device online');
      if (status.model && d.model !== 'generic' && status.model !== d.model && this.quiet.pass(`model/${d.id}`).ok)
        log.warn({ reports: status.model, configured: d.model }, `device reports model ${status.model} but is configured as ${d.model}: it is served as ${d.model}; correct the config or the device`);
      this.online(d, { ...(status.model ? { model: status.model } : {}), ...(status.fw ? { fw: status.fw } : {}), ...(status.faults?.length ? { faults: status.faults } : {}) });
    } else {
      if (this.quiet.pass(`says-offline/${d.id}`).ok) log.info('device says it goes offline');
      this.offline(d, 'said offline');
    }
    return true;
  }

  /** A request the transport refused at its door (ACL, size, rate, shutting down): told on the device's error channel. */
  refused(d: DeviceConfig, code: ProtocolErrorCode, message?: string): void {
    // The transport logs these itself, counted; a flood must not become a line (or a counted error) per message here.
    if (!this.errors.pass(`${d.id}/${code}`).ok) return;
    this.ctx.bus.emit('device.error', { device: d, code });
    this.deliver(d, { leaf: 'error', body: { v: PROTOCOL_VERSION, code, message: message ?? ALL_ERRORS[code] } });
  }

  /** A device (re)connected or subscribed: send it its state again. */
  wantsState(d: DeviceConfig): void {
    const v = this.view(d);
    if (v) this.send(d, v, { force: true });
  }

  /**
   * A request from a device (already authenticated and allowed for its
   * model). Resolves once the reply went to the link, i.e. after the
   * command's events are on disk; the MQTT link sends its PUBACK then.
   */
  async request(d: DeviceConfig, leaf: InLeaf, payload: Buffer): Promise<void> {
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(payload.toString('utf8'));
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      // A firmware stuck sending bad bytes: one line per device every 10 s, with how many were held back.
      const q = this.quiet.pass(`bad-json/${d.id}`);
      if (q.ok) this.logOf(d).warn({ leaf, bytes: payload.length, ...(q.held ? { more: q.held } : {}) }, q.held ? `malformed JSON from device (and ${q.held} more)` : 'malformed JSON from device');
      return this.error(d, undefined, 'bad_json', 'the payload must be a JSON object');
    }
    // The id comes back whole in `re`, so the device can match the refusal of an id that is too long.
    const re = typeof body.id === 'string' ? body.id : undefined;
    if (re !== undefined && (re.length < 1 || re.length > 64)) return this.error(d, re, 'bad_payload', `id: ${re.length} characters; an id has 1 to 64`);
    if (body.v !== undefined && body.v !== PROTOCOL_VERSION) return this.error(d, re, 'unsupported_version');
    if (leaf === 'press') return this.press(d, body, re);
    if (leaf === 'cmd') return this.command(d, body, re);
    if (leaf === 'played') {
      // `played` paces announcements: the announcer waits for it before the zone's next call.
      const p = Played.safeParse(body);
      if (!p.success) return this.error(d, undefined, 'bad_payload', describeIssues(p.error));
      this.ctx.bus.emit('speaker.played', { device: d, id: p.data.id });
    }
  }

  // ------------------------------------------------------------ requests

  /** Replies on the device's error channel; errors without a request id at most once a second per device and code. */
  private error(d: DeviceConfig, re: string | undefined, code: ProtocolErrorCode, message?: string): void {
    this.ctx.bus.emit('device.error', { device: d, code });
    // Once per device and code every 10 s, with a count: a device repeating a refused request cannot flood the journal.
    const q = this.quiet.pass(`refused/${d.id}/${code}`);
    if (q.ok) this.logOf(d).info({ re, code, message, ...(q.held ? { more: q.held } : {}) }, q.held ? `request refused (and ${q.held} more like it)` : 'request refused');
    if (re === undefined && !this.errors.pass(`${d.id}/${code}`).ok) return;
    this.deliver(d, { leaf: 'error', body: { v: PROTOCOL_VERSION, ...(re !== undefined ? { re } : {}), code, message: message ?? ALL_ERRORS[code] } });
  }

  private fail(d: DeviceConfig, re: string | undefined, r: CoreResult & { ok: false }): void {
    this.error(d, re, r.error.code, r.error.message);
  }

  private async press(d: DeviceConfig, body: Record<string, unknown>, re: string | undefined): Promise<void> {
    const p = Press.safeParse(body);
    if (!p.success) return this.error(d, re, 'bad_payload', describeIssues(p.error));
    const bound = [...(d.bind.services ?? []), ...(this.covered.get(d.id) ?? [])];
    const buttons = modelOf(d).buttons;
    if (p.data.button !== undefined && buttons !== undefined && p.data.button > buttons)
      return this.error(d, re, 'not_bound', `button ${p.data.button}: this dispenser model has ${buttons} buttons`);
    const service = p.data.service ?? bound[p.data.button! - 1];
    if (!service || !bound.includes(service))
      return this.error(d, re, 'not_bound', p.data.service ? `this dispenser does not issue "${p.data.service}"` : `button ${p.data.button} has no service (this dispenser has ${bound.length})`);
    const r = await this.core.submit({ type: 'issue', service, ...(p.data.priority ? { priority: p.data.priority } : {}), source: d.id, id: p.data.id });
    if (!r.ok) return this.fail(d, re, r);
    if (!r.ticket) return this.error(d, re, 'unknown_ticket', 'the ticket of this press is no longer known');
    // Every ticket is in the event log; the journal gets the unusual (a repeated press), routine lines at debug.
    if (r.duplicate) {
      // A dispenser retrying on a slow link repeats itself often: once per device every 10 s, with how many were held back.
      const q = this.quiet.pass(`repeated-press/${d.id}`);
      if (q.ok) this.logOf(d).info({ re, ticket: r.ticket.number, ...(q.held ? { more: q.held } : {}) }, q.held ? `repeated press: same ticket sent again (and ${q.held} more)` : 'repeated press: same ticket sent again');
    }
    else this.logOf(d).debug({ re, ticket: r.ticket.number }, 'ticket issued');
    this.deliver(d, { leaf: 'ticket', body: { v: PROTOCOL_VERSION, re: re ?? p.data.id, duplicate: r.duplicate, ticket: ticketView(this.config, r.ticket) } });
  }

  private async command(d: DeviceConfig, body: Record<string, unknown>, re: string | undefined): Promise<void> {
    if (typeof body.cmd !== 'string' || !(KEYPAD_COMMANDS as string[]).includes(body.cmd))
      return this.error(d, re, 'unknown_command', `"cmd" must be one of ${KEYPAD_COMMANDS.join(', ')}`);
    const c = KeypadCommand.safeParse(body);
    if (!c.success) return this.error(d, re, 'bad_payload', describeIssues(c.error));
    const window = d.bind.window;
    if (window === undefined) return this.error(d, re, 'not_bound', 'this keypad is not bound to a window');
    if (c.data.window !== undefined && c.data.window !== window) return this.error(d, re, 'forbidden', `this keypad belongs to window ${window}`);
    const cmd = keypadCommand(c.data, window, d.id);
    if (cmd) {
      const r = await this.core.submit(cmd);
      if (!r.ok) return this.fail(d, re, r);
      this.logOf(d).debug({ re, cmd: c.data.cmd, ticket: r.ticket?.number, duplicate: r.duplicate }, 'keypad command');
    }
    // The reply is the keypad's screen after the command, carrying the command's id.
    this.send(d, { leaf: 'screen', view: keypadView(this.core.engine, window) }, { force: true, ...(re !== undefined ? { re } : {}) });
  }

  // ------------------------------------------------------------ views

  /** Recomputes and sends the views of the devices the events touch, and only those. */
  private committed(events: StoredEvent[]): void | Promise<void> {
    const devices = new Set<DeviceConfig>();
    const touchWindow = (w: number | undefined) => {
      if (w === undefined) return;
      for (const d of this.showing.window.get(w) ?? []) devices.add(d);
      for (const d of this.showing.zone.get(this.zoneOf.get(w) ?? 'hall') ?? []) devices.add(d);
    };
    const touchService = (s: string) => {
      for (const d of this.showing.service.get(s) ?? []) devices.add(d);
    };
    let all = false;
    if (events.some((e) => e.type === 'window.assigned')) this.indexServices();
    for (const e of events) {
      this.track(e);
      if (e.type === 'day.rolled') all = true;
      if ('window' in e) touchWindow(e.window);
      if ('service' in e && e.service) touchService(e.service);
      if (e.type === 'ticket.transferred') touchService(e.from);
      if ('ticket' in e) {
        // Wherever the ticket is now (a window shows its number and status).
        const t = this.core.engine.state.tickets[e.ticket];
        if (t && (t.status === 'called' || t.status === 'serving')) touchWindow(t.window);
      }
    }
    if (all) return this.refresh(false);
    return this.sendViews([...devices]);
  }

  /**
   * Sends the views of these devices that changed, a slice at a time: after
   * FANOUT_SLICE_MS of work the loop gets a turn, and commands that arrived
   * meanwhile are answered first (their own views follow in their turn).
   * Devices that show the same thing share one view and its JSON.
   */
  private sendViews(devices: DeviceConfig[], from = 0): void | Promise<void> {
    // Views made before a turn may be stale after it: each slice makes its own.
    const shared = new Map<string, { v: ViewMsg; key: string } | undefined>();
    const t0 = performance.now();
    for (let i = from; i < devices.length; i++) {
      // A promise only when the work is long: a short fan-out costs the bus no timer.
      if (i > from && performance.now() - t0 > FANOUT_SLICE_MS) return this.ctx.bus.breathe().then(() => (this.running ? this.sendViews(devices, i) : undefined));
      const d = devices[i]!;
      // Removed by a reload during a turn: nothing to send it.
      if (!this.links.has(d.id)) continue;
      const id = this.shareKeys.get(d.id);
      let s = id === undefined ? undefined : shared.get(id);
      if (!s) {
        const v = this.view(d);
        s = v && { v, key: JSON.stringify(v.view) };
        if (id !== undefined) shared.set(id, s);
      }
      if (s) this.send(d, s.v, { force: false }, s.key);
    }
  }

  /** Devices with the same key show the same view (boards of one zone and shape); none: its own. */
  private shareKey(d: DeviceConfig): string | undefined {
    if (d.kind === 'board') return `b\u0000${boardShape(this.config, d).key}`;
    if ((d.kind === 'keypad' || d.kind === 'display') && d.bind.window !== undefined) return `${d.kind}\u0000${d.bind.window}`;
    return undefined;
  }

  /**
   * A device's view recomputed from scratch: the engine's state and the
   * day's calls read again from the log. Tests compare it with what the
   * device was sent, so the incremental path never drifts.
   */
  recompute(d: DeviceConfig): ViewMsg | undefined {
    const fresh = new DeviceHub(this.ctx);
    const day = this.core.engine.state.day;
    if (day) for (const e of this.core.store.eventsOfDay(day, TRACKED)) fresh.track(e);
    return fresh.view(d);
  }

  private track(e: StoredEvent) {
    if (e.type === 'day.rolled') this.lastCallSeq.clear();
    const call = this.recent.add(e);
    if (call) this.lastCallSeq.set(call.w, call.seq);
  }

  private view(d: DeviceConfig): ViewMsg | undefined {
    switch (d.kind) {
      case 'board': {
        const view = boardView(this.config, this.core.engine, this.recent, d);
        const flashSec = this.flashSec.get(view.zone);
        return { leaf: 'display', view: flashSec === undefined ? view : { ...view, flashSec } };
      }
      case 'display':
        return d.bind.window === undefined ? undefined : { leaf: 'display', view: windowView(this.core.engine, d.bind.window, this.lastCallSeq.get(d.bind.window)) };
      case 'keypad':
        return d.bind.window === undefined ? undefined : { leaf: 'screen', view: keypadView(this.core.engine, d.bind.window) };
      default:
        return undefined;
    }
  }

  /** Sends every device view that changed (all of them when `force`). Retained, so a device that reconnects gets it at once. */
  private refresh(force: boolean): void {
    for (const d of this.devices) {
      const v = this.view(d);
      if (v) this.send(d, v, { force });
    }
  }

  /**
   * Sends a device its view when it changed (always when `force`: a reply, a
   * device that asks for its state). A change only in fields that may wait
   * goes through the coalescer; anything else goes at once and carries the
   * newest of everything.
   */
  private send(d: DeviceConfig, v: ViewMsg, o: { force: boolean; re?: string }, json?: string): void {
    const key = json ?? JSON.stringify(v.view);
    const last = this.lastSent.get(d.id);
    if (!o.force && last?.key === key) {
      this.coalescer.drop(d.id); // back to what the device shows: nothing held is needed
      return;
    }
    const urgent = o.force || !last || !onlyVolatile(d.kind, last.view, v.view);
    this.coalescer.offer(d.id, urgent, () => this.put(d, v, key, o.re));
  }

  private put(d: DeviceConfig, v: ViewMsg, key: string, re: string | undefined): void {
    const last = this.lastSent.get(d.id);
    // The same content keeps its rev; new content gets the next one (starting from the log's seq at start, so revs rarely go back across restarts).
    const rev = last ? (last.key === key ? last.rev : last.rev + 1) : this.revBase + 1;
    this.lastSent.set(d.id, { key, rev, view: v.view });
    const m: OutMessage = v.leaf === 'display' ? { leaf: 'display', body: { ...v.view, rev } } : { leaf: 'screen', body: { ...v.view, rev, ...(re ? { re } : {}) } };
    // The view's JSON is made once (for the comparison above) and the message's from it, not again by the transport.
    this.deliver(d, m, true, key.length < 3 ? undefined : `${key.slice(0, -1)},"rev":${rev}${re && v.leaf === 'screen' ? `,"re":${JSON.stringify(re)}` : ''}}`);
  }

  /** How many view sends went at once and how many were held back (newest wins) since start. */
  viewSends(): { now: number; held: number; superseded: number } {
    return { ...this.coalescer.counts };
  }

  /** Hands a message to the device's link, if its model takes that message. */
  private deliver(d: DeviceConfig, m: OutMessage, retain = false, json?: string): void {
    if (!modelOf(d).accepts.includes(m.leaf)) return;
    this.links.get(d.id)?.send(m, json === undefined ? { retain } : { retain, json });
  }
}

/** A device's current view: what a board or window display shows, or a keypad's screen. */
export type ViewMsg = { leaf: 'display'; view: OutMessages['display'] } | { leaf: 'screen'; view: OutMessages['screen'] };

/** A validated keypad request → the engine command it stands for (none for `screen`, which only asks for the screen). */
function keypadCommand(k: KeypadCommand, window: number, source: string): Command | undefined {
  const ref = { source, id: k.id };
  switch (k.cmd) {
    case 'next': return { type: 'next', window, ...ref };
    case 'recall': return { type: 'recall', window, ...ref };
    case 'start': return { type: 'start', window, ...ref };
    case 'done': return { type: 'finish', window, ...ref };
    case 'noShow': return { type: 'noShow', window, ...ref };
    case 'return': return { type: 'returnNoShow', ticket: k.ticket, ...ref };
    case 'transfer': return { type: 'transfer', window, service: k.service, ...(k.position ? { position: k.position } : {}), ...ref };
    case 'park': return { type: 'park', window, ...ref };
    case 'resume': return { type: 'resume', window, ticket: k.ticket, ...ref };
    case 'call': return { type: 'callTicket', window, ticket: k.ticket, ...ref };
    case 'callInquiry': return { type: 'callInquiry', window, inquiry: k.inquiry, ...ref };
    case 'open': return { type: 'open', window, ...ref };
    case 'pause': return { type: 'pause', window, reason: k.reason ?? 'break', ...ref };
    case 'close': return { type: 'close', window, ...ref };
    case 'screen': return undefined;
  }
}
