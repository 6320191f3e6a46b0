/**
 * The one context object every module is built with: the config, the
 * logger, the core (the only command path), the event bus, the device links
 * and the module list itself. A module takes what it needs from it in its
 * constructor and does its work in start().
 */
import type { Logger } from 'pino';
import type { CenterConfig, DeviceConfig } from '../../config/schema.js';
import type { Core } from '../core/core.js';
import type { Presence, Routes } from '../../contract/ports.js';
import type { Links } from '../devices/link.js';
import type { Command, StoredEvent } from '../engine/types.js';
import type { Bus } from './bus.js';
import type { Modules } from './module.js';

/** What travels on the hub's bus. */
export interface HubEvents {
  /** The events one command (or one rollover) committed, in `seq` order; `command` is absent for a rollover. */
  committed: { events: StoredEvent[]; command?: Command };
  /** A device's link came up (MQTT login + online status, a wired device answering...), or its condition changed (`faults`). */
  'device.online': { device: DeviceConfig; model?: string; fw?: string; faults?: string[] };
  /** A device's link went down (last will, closed port, ...). */
  'device.offline': { device: DeviceConfig };
  /** A speaker finished an announcement (`played`, with the announcement's id). */
  'speaker.played': { device: DeviceConfig; id: number | string };
  /** A call is being announced in a zone (browser pages play `path`). */
  'voice.call': { zone: string; id: number; t: string; w: number; recall: boolean; short: boolean; path?: string; durationMs?: number };
}

export interface HubContext {
  config: CenterConfig;
  /** Device id or user name → secret (resolved from the config). */
  secrets: Map<string, string>;
  log: Logger;
  version: string;
  dataDir: string;
  core: Core;
  bus: Bus<HubEvents>;
  links: Links;
  /** The module list, for /health's report only (modules never look each other up). */
  modules: Modules;
  /** Adding HTTP routes and /health parts. */
  routes: Routes;
  /** Who is online (the device hub's record). */
  presence: Presence;
}
