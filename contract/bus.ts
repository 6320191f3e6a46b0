/**
 * What travels on the hub's event bus (daemon/spine/bus.ts): committed
 * events, device presence, speakers' progress, calls being announced. A
 * module listens by name and never learns who emitted.
 */
import type { DeviceConfig } from '../config/schema.js';
import type { Command, StoredEvent } from './queue.js';

/** An alert open now. */
export interface OpenAlert {
  /** `<kind>:<device or service>`: the same alert keeps its key until it clears. */
  alert: string;
  kind: string;
  device?: string;
  service?: string;
  message: string;
  /** When it was raised (ISO 8601). */
  since: string;
}

/** What travels on the hub's bus. */
export interface HubEvents {
  /** The events one command (or one rollover) committed, in `seq` order; `command` is absent for a rollover. */
  committed: { events: StoredEvent[]; command?: Command };
  /** A device's link came up (MQTT login + online status, a wired device answering...), or its condition changed (`faults`). */
  'device.online': { device: DeviceConfig; model?: string; fw?: string; faults?: string[] };
  /** A device's link went down (last will, closed port, ...). */
  'device.offline': { device: DeviceConfig };
  /** The hub refused a device's request or message (counted per device in its health). */
  'device.error': { device: DeviceConfig; code: string };
  /** A speaker finished an announcement (`played`, with the announcement's id). */
  'speaker.played': { device: DeviceConfig; id: number | string };
  /** The open alerts changed (daemon/alerts): the broker keeps them on the retained topic qhub/hub/alerts. */
  'alerts.changed': { open: OpenAlert[] };
  /** The config was reloaded (SIGHUP, `qhub reload`): what changed, and which changed keys wait for a restart. */
  'config.reloaded': { summary: string; waitForRestart: string[] };
  /** A call is being announced in a zone (browser pages play `path`). */
  'voice.call': { zone: string; id: number; t: string; w: number; recall: boolean; short: boolean; path?: string; durationMs?: number };
}

