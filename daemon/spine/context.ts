/**
 * The one context object every module is built with: the config, the
 * logger, the core (the only command path), the event bus, the device links
 * and the module list itself. A module takes what it needs from it in its
 * constructor and does its work in start().
 */
import type { Logger } from 'pino';
import type { CenterConfig, DeviceConfig } from '../../config/schema.js';
import type { Presence, Routes, RunAction } from '../../contract/ports.js';
import type { Links } from './links.js';
import type { HubEvents } from '../../contract/bus.js';
import type { CoreResult } from '../../contract/ports.js';
import type { Command, EventBody } from '../../contract/queue.js';
import type { Engine } from '../engine/engine.js';
import type { Store } from '../store/store.js';
import type { Bus } from './bus.js';

export type { HubEvents };
import type { Modules } from './module.js';

/**
 * What modules may use of the core (daemon/core): the one command path, the
 * state to read, the event log, the clock. The Core class implements it.
 */
export interface CorePort {
  readonly config: CenterConfig;
  /** The engine's state and queries; read only outside the core. */
  readonly engine: Engine;
  readonly store: Store;
  clock(): number;
  /** Queues a command; resolves once its events are on disk (never rejects). */
  submit(cmd: Command): Promise<CoreResult>;
  /** The rollover check (the schedules' timer). */
  tick(): Promise<CoreResult>;
  /** Records facts the hub observed (device presence, alerts) in the log. */
  note(events: EventBody[], source?: string): Promise<CoreResult>;
  /** Called after each group commit with its duration (ms) and size. */
  onCommit(fn: (ms: number, commands: number) => void): void;
}

export interface HubContext {
  config: CenterConfig;
  /** Device id or user name → secret (resolved from the config). */
  secrets: Map<string, string>;
  log: Logger;
  version: string;
  dataDir: string;
  core: CorePort;
  bus: Bus<HubEvents>;
  links: Links;
  /** The module list, for /health's report only (modules never look each other up). */
  modules: Modules;
  /** Adding HTTP routes and /health parts. */
  routes: Routes;
  /** Who is online (the device hub's record). */
  presence: Presence;
  /** The command table (daemon/api): runs an action as a principal; the backend's transports go through it. */
  actions: RunAction;
}
