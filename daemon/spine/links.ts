/**
 * The device links of this daemon: each transport (MQTT in daemon/mqtt/,
 * serial lines and Firmata boards in daemon/wired/) registers here and gives
 * one link per device; the device hub listens to all of them through one
 * LinkListener and never learns which transport carries a device. The
 * interfaces are in contract/devices.ts.
 */
import type { DeviceConfig } from '../../config/schema.js';
import type { DeviceLink, LinkListener, Transport, TransportType } from '../../contract/devices.js';

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
