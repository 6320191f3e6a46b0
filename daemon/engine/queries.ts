/**
 * What a command's decider may read of the engine: the state, the config and
 * the engine's indexed queries. Read-only by contract; a decider returns
 * events and never changes anything. `Engine` implements it.
 */
import type { CenterConfig, ServiceConfig, WindowConfig } from '../../config/schema.js';
import type { EngineState } from './state.js';
import type { Command, CommandType, Decision, Ticket, WindowState } from '../../contract/queue.js';

export interface EngineQueries {
  readonly state: EngineState;
  readonly config: CenterConfig;
  /** A service of the config, or undefined. */
  serviceConfig(id: string): ServiceConfig | undefined;
  /** A window of the config, or undefined. */
  windowConfig(n: number): WindowConfig | undefined;
  /** A window's state (closed and idle when nothing happened there yet). */
  window(n: number): WindowState;
  /** A ticket by id or printed number (an active one first). */
  ticket(ref: string): Ticket | undefined;
  /** The services a window calls now, in pick order: its assignment, else its configured services. */
  servicesOf(window: number): string[];
  /** The windows (config order) that call a service now. */
  windowsOf(service: string): number[];
  /** How many wait for a service. */
  waitingCount(service: string): number;
  /** How many priority tickets wait for a service. */
  waitingPriorityCount(service: string): number;
  /** The ticket a service would give next, by its priority rule. */
  candidate(service: string): Ticket | undefined;
  /** Whether an active ticket holds this printed number (exact case). */
  numberInUse(number: string): boolean;
  /** Expected wait in minutes for someone with `ahead` people before them. */
  expectedWait(service: string, ahead: number): number;
}

/** One command type's variant of Command. */
export type CommandOf<K extends CommandType> = Extract<Command, { type: K }>;

/**
 * Decides one command of type K against the engine's queries at time `now`:
 * the events it would cause, or a refusal (thrown as an EngineError, which
 * `Engine.decide` turns into `{ ok: false }`). Never changes anything.
 */
export type Decider<K extends CommandType> = (q: EngineQueries, cmd: CommandOf<K>, now: number) => Decision;
