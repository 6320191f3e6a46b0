/**
 * What a device model definition says. A definition is data: the daemon
 * reads it to decide what to send a device and what to accept from it, and
 * `qhub check-config` reads it to refuse a device the hub could not drive.
 * Wired models (next issue) add a codec: how hub messages become bytes and
 * bytes become requests.
 */
import type { DeviceConfig, DeviceKind } from '../config/schema.js';

export type TransportType = DeviceConfig['transport']['type'];
/** Messages the hub sends a device. */
export type OutLeaf = 'ticket' | 'screen' | 'display' | 'announce' | 'error';
/** Requests a device sends the hub (besides its availability, `status`, which every device may send). */
export type InLeaf = 'press' | 'cmd' | 'played';

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
}

/** `generic` is every kind's model for a device that speaks docs/PROTOCOL.md and says nothing more. */
export const GENERIC = 'generic';
