/**
 * Drives the pure engine through its one command path (`Engine.step`, the
 * same the daemon's Core uses) with an in-memory log standing in for the
 * SQLite store: events get gap-free `seq`s and only committed events are
 * applied.
 */
import type { Engine, StepResult } from '../../daemon/engine/engine.js';
import type { Command, StoredEvent } from '../../contract/queue.js';

export type RunResult = StepResult & {
  /** Every event this step committed, the rollover's included, in order. */
  stamped: StoredEvent[];
  /** The events the command itself caused (not the rollover's). */
  events: StoredEvent[];
};

export function runStep(engine: Engine, cmd: Command | undefined, now: number, log: StoredEvent[] = []): RunResult {
  const batches: StoredEvent[][] = [];
  const r = engine.step(cmd, now, (events) => {
    const stored = events.map((e, i) => ({ ...e, seq: log.length + i + 1 }));
    log.push(...stored);
    batches.push(stored);
    return stored;
  });
  // The engine's indexes (waiting per service, numbers in use) must equal a rebuild from the state after every step.
  if (!engine.indexesAgree()) throw new Error(`engine indexes drifted from the state after ${cmd?.type ?? 'a rollover'} at ${new Date(now).toISOString()}`);
  const stamped = batches.flat();
  const events = batches.filter((b) => !b.some((e) => e.type === 'day.rolled')).flat();
  return { ...r, stamped, events };
}
