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
import type { HubEvents } from '../../contract/bus.js';
import type { Bus } from './bus.js';

export type { HubEvents };
import type { Modules } from './module.js';

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
