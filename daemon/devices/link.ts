/**
 * The device link: the one interface between the device hub and a device,
 * whatever carries it. A transport (MQTT in daemon/mqtt/; serial lines and
 * Firmata boards in daemon/wired/) gives a link per device and reports what
 * comes from its devices to one listener, the device hub. The device hub never learns
 * which transport carries a device.
 */
import type { DeviceConfig } from '../../config/schema.js';
import type { ProtocolErrorCode } from '../../contract/protocol.js';
import type { InLeaf, OutLeaf, TransportType } from '../../devices/index.js';

export type { InLeaf, OutLeaf, TransportType };

export interface DeviceLink {
  readonly device: DeviceConfig;
  /**
   * Sends one message. `retain`: it is the device's current state (a screen,
   * a display): a device that (re)connects later gets the latest one.
   * Never throws; a transport that cannot deliver logs it and reports the
   * device offline.
   */
  send(leaf: OutLeaf, body: Record<string, unknown>, opts?: { retain?: boolean }): void;
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

/** The transports of this daemon, by type. Transport modules register here when they are built. */
export class Links {
  private readonly transports = new Map<TransportType, Transport>();
  private listener?: LinkListener;

  register(t: Transport): void {
    for (const type of t.types) {
      if (this.transports.has(type)) throw new Error(`two transports for "${type}"`);
      this.transports.set(type, t);
    }
    t.listen(this.listener);
  }

  served(): TransportType[] {
    return [...this.transports.keys()];
  }

  /** The link of a configured device; throws when no transport of this daemon carries it. */
  link(device: DeviceConfig): DeviceLink {
    const t = this.transports.get(device.transport.type);
    if (!t)
      throw new Error(
        `device ${device.id}: no link serves transport "${device.transport.type}" in this qhub (served: ${this.served().join(', ') || 'none'}); qhub check-config shows where it is configured`,
      );
    return t.link(device);
  }

  listen(listener: LinkListener | undefined): void {
    this.listener = listener;
    for (const t of new Set(this.transports.values())) t.listen(listener);
  }
}
