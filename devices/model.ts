/**
 * What a device model definition says. A definition is data: the daemon
 * reads it to decide what to send a device and what to accept from it, and
 * `qhub check-config` reads it to refuse a device the hub could not drive.
 * Wired models add `wired`: how hub messages become bytes and bytes become
 * requests, over the drivers the wired transport opens for them.
 */
import type { Logger } from 'pino';
import type { DeviceConfig, DeviceKind } from '../config/schema.js';
import type { InLeaf, OutLeaf, OutMessage, TransportType } from '../contract/devices.js';
import type { ModbusBus } from '../drivers/modbus.js';
import type { SerialLine } from '../drivers/serial/line.js';

export type { InLeaf, OutLeaf, TransportType };

export interface ModelDefinition {
  model: string;
  kind: DeviceKind;
  description: string;
  /** What can carry it; a device configured with another transport is a config error. */
  transports: readonly TransportType[];
  /** Requests it sends (the MQTT ACL allows exactly these topics, plus `status`). */
  sends: readonly InLeaf[];
  /** Messages it takes; the hub sends it nothing else. */
  accepts: readonly OutLeaf[];
  /** Boards: how many recent calls fit. */
  rows?: number;
  /** Dispensers: physical buttons, in the order of the device's bound services. */
  buttons?: number;
  /** Speakers: languages it can play, in the order they are announced. */
  languages?: readonly ('ar' | 'en')[];
  /** Wired parts the transport config must name (check-config refuses a device without them). */
  needs?: readonly 'printer'[];
  /** Serial speeds the model can talk at (a fixed-speed module); any when absent. */
  bauds?: readonly number[];
  /** Devices of a bus protocol may share one serial line, each at its own address. */
  bus?: 'modbus';
  /** Displays with a fixed character set: why a ticket number cannot be shown, or undefined when it can (check-config asks for the widest ticket of each bound service). */
  shows?: (ticket: string) => string | undefined;
  /**
   * Speakers that say `played` only once they really finished a call (a
   * DFPlayer reports each clip's end): the hub waits for that report, up to
   * `clipMs` per clip, instead of the call's length from the hub's own pack
   * (which it may not have, or whose clips may differ from the device's).
   */
  reportsEnd?: { clipMs: number };
  /** Wired models: the codec between hub messages and the device's bytes. */
  wired?: WiredCodec;
}

/** What a wired device reports about itself: presence, and faults a person must fix (no paper...). */
export interface WiredCondition {
  model?: string;
  fw?: string;
  /** Short codes, e.g. `paper_out`, `paper_low`, `printer_absent`; empty when all is well. */
  faults?: string[];
}

/**
 * What the wired transport gives a model's codec: the device's drivers
 * (opened, shared and reconnected by the transport) and the way to the
 * device hub. Requests and replies are the same bodies MQTT devices use
 * (docs/PROTOCOL.md), so the device hub cannot tell the transports apart.
 */
export interface WiredIo {
  readonly device: DeviceConfig;
  readonly log: Logger;
  /** The device's serial line (transport `serial`: its path; `firmata`: the board's). */
  line(): SerialLine;
  /** Another line of the device (a wired dispenser's printer). */
  lineAt(spec: { path: string; baud: number; framing: string }): SerialLine;
  /** The Modbus master of the device's line, shared by every device on that bus. */
  modbus(): ModbusBus;
  /** A request to the hub, as a device would publish it; settles once answered (the answer comes through `send`). */
  request(leaf: InLeaf, body: Record<string, unknown>): Promise<void>;
  /** The device is there (again), or its condition changed. */
  online(c?: WiredCondition): void;
  /** The device is gone; `why` is shown in /health and the log (port closed, no answer, ...). */
  offline(why?: string): void;
  /** Asks the hub for the device's current state (sent through `send`). */
  wantsState(): void;
}

/** One wired device, opened by its model's codec. */
export interface WiredDevice {
  /** A message from the hub; never throws (a device that cannot take it reports itself offline). */
  send(m: OutMessage): void;
  stop(): Promise<void>;
  /** Figures for /health (counters, last error). */
  health?(): Record<string, unknown>;
}

export interface WiredCodec {
  open(io: WiredIo): WiredDevice;
}

/** `generic` is every kind's model for a device that speaks docs/PROTOCOL.md and says nothing more. */
export const GENERIC = 'generic';
