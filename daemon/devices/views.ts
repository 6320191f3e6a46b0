/**
 * What each device shows, computed from the engine's state and the day's
 * calls: small flat JSON a microcontroller can render. Pure functions of
 * their inputs; the device hub decides when to send them.
 */
import type { CenterConfig, DeviceConfig } from '../../config/schema.js';
import { modelOf } from '../../devices/index.js';
import { localTime } from '../engine/clock.js';
import type { Engine } from '../engine/engine.js';
import type { StoredEvent, Ticket } from '../../contract/queue.js';
import { callOf, zonesOf, type Call } from '../../contract/calls.js';
import type { BoardDisplay, ScreenMsg, TicketView, WindowDisplay } from '../../contract/devices.js';
import { PROTOCOL_VERSION } from '../../contract/protocol.js';

export { callOf, zonesOf, type Call };

const KEEP = 16;

/** The day's recent calls per hall zone, newest first; rebuilt from the log at start. */
export class RecentCalls {
  private readonly byZone = new Map<string, Call[]>();
  private readonly zoneOf: Map<number, string>;
  constructor(config: CenterConfig) {
    this.zoneOf = zonesOf(config);
  }
  add(e: StoredEvent): Call | undefined {
    if (e.type === 'day.rolled') {
      this.byZone.clear();
      return undefined;
    }
    const call = callOf(e, this.zoneOf);
    if (!call) return undefined;
    const zone = call.zone;
    const list = this.byZone.get(zone) ?? [];
    // A number shows once: a recall moves it back to the top.
    const rest = list.filter((c) => !(c.t === call.t && c.w === call.w));
    this.byZone.set(zone, [call, ...rest].slice(0, KEEP));
    return call;
  }
  zone(zone: string): Call[] {
    return this.byZone.get(zone) ?? [];
  }
}

export type View = BoardDisplay | WindowDisplay | ScreenMsg;

function current(engine: Engine, window: number): Ticket | undefined {
  const id = engine.window(window).current;
  return id ? engine.state.tickets[id] : undefined;
}

/**
 * What a board's view depends on besides the state: its zone, the one window
 * it may be bound to, and how many rows it has. Boards of the same shape show
 * the same view (the device hub makes it, and its JSON, once for all of them).
 */
export function boardShape(config: CenterConfig, device: DeviceConfig): { zone: string; rows: number; key: string } {
  const zone = device.bind.zone ?? config.windows.find((w) => w.number === device.bind.window)?.zone ?? 'hall';
  const rows = modelOf(device).rows ?? 4;
  return { zone, rows, key: `${zone}\u0000${device.bind.window ?? ''}\u0000${rows}` };
}

/** Hall board of a zone (or of one window): recent calls and the one to flash. */
export function boardView(config: CenterConfig, engine: Engine, recent: RecentCalls, device: DeviceConfig): BoardDisplay {
  const { zone, rows } = boardShape(config, device);
  const calls = recent.zone(zone).filter((c) => device.bind.window === undefined || c.w === device.bind.window);
  // Only calls of citizens still at their window are shown; the newest flashes.
  const live = calls.filter((c) => current(engine, c.w)?.number === c.t);
  const newest = live[0];
  return {
    v: PROTOCOL_VERSION,
    zone,
    flash: newest ? { t: newest.t, w: newest.w, seq: newest.seq } : null,
    rows: live.slice(0, rows).map((c) => ({ t: c.t, w: c.w })),
  };
}

/** Small display above one window. */
export function windowView(engine: Engine, window: number, flashSeq: number | undefined): WindowDisplay {
  const w = engine.window(window);
  const t = current(engine, window);
  return {
    v: PROTOCOL_VERSION,
    w: window,
    state: w.status === 'open' ? (t ? t.status : 'idle') : w.status,
    t: t?.number ?? null,
    flash: t && flashSeq !== undefined ? flashSeq : null,
  };
}

/** A keypad's screen: its window, the citizen at it, how many wait. */
export function keypadView(engine: Engine, window: number): ScreenMsg {
  const w = engine.window(window);
  const t = current(engine, window);
  return {
    v: PROTOCOL_VERSION,
    w: window,
    state: w.status,
    ...(w.reason ? { reason: w.reason } : {}),
    t: t?.number ?? null,
    status: t?.status ?? null,
    service: t?.service ?? null,
    recalls: t?.recalls ?? 0,
    waiting: engine.waitingFor(window),
    served: w.served,
  };
}

/** The ticket a dispenser prints. */
export function ticketView(config: CenterConfig, t: Ticket): TicketView {
  const s = config.services.find((x) => x.id === t.service);
  const local = localTime(t.issuedAt, config.center.timezone);
  return {
    t: t.number,
    service: t.service,
    name: s?.name ?? { ar: t.service },
    center: config.center.name,
    day: t.day,
    date: local.date,
    time: `${String(local.hour).padStart(2, '0')}:${String(local.minute).padStart(2, '0')}`,
    ahead: t.ahead,
    waitMin: t.expectedWaitMin,
    ...(t.priority ? { priority: t.priority } : {}),
  };
}
