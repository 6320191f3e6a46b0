/**
 * The engine's state: what the event log folds into, and what a snapshot
 * holds. Plain data (JSON), so a snapshot is the state as it is.
 */
import type { Ticket, WindowState } from '../../contract/queue.js';

/** Orders at the front of a queue count up from here, below every order at the back. */
export const FRONT_BASE = -1e12;

export interface EngineState {
  /** Current business day; null before the first start. */
  day: string | null;
  /** Latest event time seen: the day never goes back even if the clock does. */
  lastAt: number;
  nextOrder: number;
  frontOrder: number;
  /** Per service, today: how many issued and the last number given. */
  counters: Record<string, { issued: number; last: number }>;
  tickets: Record<string, Ticket>;
  windows: Record<string, WindowState>;
  /** Per service: normal tickets called since the last priority one. */
  sincePriority: Record<string, number>;
  /** Per service: recent service times (ms), newest last. */
  samples: Record<string, number[]>;
  /** Command refs seen recently → time and the ticket it concerned. */
  refs: Record<string, { at: number; ticket?: string }>;
  /**
   * Window number → the services it calls, in pick order, as last assigned
   * (`window.assigned`). Kept across rollovers; a window without an entry
   * calls its configured services. Snapshots written before this field
   * existed lack it: the engine reads that as {} (nothing assigned).
   */
  assigned: Record<string, string[]>;
}

export function emptyState(): EngineState {
  return {
    day: null,
    lastAt: 0,
    nextOrder: 1,
    frontOrder: FRONT_BASE,
    counters: {},
    tickets: {},
    windows: {},
    sincePriority: {},
    samples: {},
    refs: {},
    assigned: {},
  };
}
