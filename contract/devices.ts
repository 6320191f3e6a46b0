/**
 * Devices as the hub's modules see them, whatever carries them: the leaves
 * of their topics (docs/PROTOCOL.md), the messages each leaf carries, typed,
 * and the link interfaces between the device hub and the transports
 * (MQTT in daemon/mqtt/, serial lines and Firmata boards in daemon/wired/).
 */
import type { DeviceConfig } from '../config/schema.js';
import type { ProtocolErrorCode } from './protocol.js';

export type TransportType = DeviceConfig['transport']['type'];
/** Messages the hub sends a device. */
export type OutLeaf = 'ticket' | 'screen' | 'display' | 'announce' | 'error';
/** Requests a device sends the hub (besides its availability, `status`, which every device may send). */
export type InLeaf = 'press' | 'cmd' | 'played';

/** What a printed ticket says (docs/PROTOCOL.md, `ticket`). */
export interface TicketView {
  /** The ticket number as called out, e.g. "A042". */
  t: string;
  service: string;
  name: { ar: string; en?: string };
  center: { ar: string; en?: string };
  /** Queue day (YYYY-MM-DD); `date` is the local calendar date printed. */
  day?: string;
  date: string;
  /** Local time of issue, "HH:MM". */
  time: string;
  /** People waiting before this ticket. */
  ahead: number;
  /** Expected wait in whole minutes. */
  waitMin: number;
  /** e.g. 'elderly', 'disabled': the ticket goes in the priority queue. */
  priority?: string;
}

/** The reply to a press, or a ticket the hub prints on its own (`re` starting with "hub:"). */
export interface TicketMsg {
  v: number;
  re: string;
  duplicate: boolean;
  ticket: TicketView;
}

/** A keypad's screen. */
export interface ScreenMsg {
  v: number;
  w: number;
  state: 'open' | 'paused' | 'closed';
  reason?: string;
  t: string | null;
  status: string | null;
  service: string | null;
  recalls: number;
  waiting: number;
  served: number;
  /** A test screen of the morning check. */
  test?: true;
  rev?: number;
  re?: string;
}

/** A hall board: the call to flash and the recent calls still at their windows. */
export interface BoardDisplay {
  v: number;
  zone: string;
  flash: { t: string; w: number; seq: number } | null;
  rows: { t: string; w: number }[];
  /** Flash a new call this many seconds (present while no speaker of the zone is online: a fallback). */
  flashSec?: number;
  /** A test pattern of the morning check (`qhub selftest`): show it; the real view follows within seconds. */
  test?: true;
  rev?: number;
}

/** A small display above one window. */
export interface WindowDisplay {
  v: number;
  w: number;
  state: string;
  t: string | null;
  flash: number | null;
  /** A test pattern of the morning check. */
  test?: true;
  rev?: number;
}

export type DisplayMsg = BoardDisplay | WindowDisplay;

/** A call for a speaker (docs/VOICE.md). */
export interface AnnounceMsg {
  v: number;
  /** The call's sequence number, the same as a board's `flash.seq`. */
  id: number;
  t: string;
  w: number;
  zone: string;
  recall: boolean;
  short: boolean;
  lang: readonly ('ar' | 'en')[];
  text: Partial<Record<'ar' | 'en', string>>;
  clips: { lang: 'ar' | 'en' | 'sound'; id: string }[];
  path?: string;
  durationMs?: number;
}

export interface ErrorMsg {
  v: number;
  re?: string;
  code: string;
  message: string;
}

export interface OutMessages {
  ticket: TicketMsg;
  screen: ScreenMsg;
  display: DisplayMsg;
  announce: AnnounceMsg;
  error: ErrorMsg;
}

/** One message to a device: `leaf` tells the type of `body` (a codec switches on it, no casts). */
export type OutMessage = { [L in OutLeaf]: { leaf: L; body: OutMessages[L] } }[OutLeaf];

export interface DeviceLink {
  readonly device: DeviceConfig;
  /**
   * Sends one message. `retain`: it is the device's current state (a screen,
   * a display): a device that (re)connects later gets the latest one.
   * Never throws; a transport that cannot deliver logs it and reports the
   * device offline. `json`: the body already serialised (exactly
   * `JSON.stringify(m.body)`), for a transport that sends JSON to use
   * instead of serialising it again.
   */
  send(m: OutMessage, opts?: { retain?: boolean; json?: string }): void;
}

/** What transports report to the device hub. */
export interface LinkListener {
  /** A request from a device, already authenticated and allowed for its kind; settles when it has been answered. */
  request(device: DeviceConfig, leaf: InLeaf, payload: Buffer): void | Promise<void>;
  /** The device is there; called again when its condition changes (faults: e.g. `paper_out`). */
  online(device: DeviceConfig, info: { model?: string; fw?: string; faults?: string[] }): void;
  /** The device is gone; `why` (port closed, no answer, disconnected) is shown in /health. */
  offline(device: DeviceConfig, why?: string): void;
  /** The device (re)subscribed or reconnected and needs its current state. */
  wantsState(device: DeviceConfig): void;
  /**
   * The device's own availability message (`status`, docs/PROTOCOL.md), as
   * published: the device hub reads presence, model and faults from it.
   * false: not a valid status (the device was told why); do not keep it.
   */
  status(device: DeviceConfig, payload: Buffer): boolean;
  /** A request refused before it reached the device hub (ACL, size, rate, shutting down): the device is told on its error channel. */
  refused(device: DeviceConfig, code: ProtocolErrorCode, message?: string): void;
}

export interface Transport {
  /** The transport types of the config (`transport.type`) it carries. */
  readonly types: readonly TransportType[];
  link(device: DeviceConfig): DeviceLink;
  /** The listener for this transport's devices; undefined while the device hub is not running. */
  listen(listener: LinkListener | undefined): void;
}
