/**
 * The hub's core: the engine with its durable store, and the only path for
 * commands. Every command goes rollover → decide → commit → apply
 * (`Engine.step`, with the store as its commit), synchronously, so commands
 * never interleave and nothing is acknowledged before it is on disk.
 * The caller gets the command's own result; everyone else (device hub,
 * announcer, later the forwarder) hears of committed events on the bus,
 * after the caller has returned.
 *
 * Owns: the Store, the Engine's state, snapshots. May touch: the bus (emit only).
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { CenterConfig } from '../../config/schema.js';
import { Engine, type EngineState, type StepResult } from '../engine/engine.js';
import { ERROR_CODES, type Command, type ErrorCode, type StoredEvent, type Ticket } from '../engine/types.js';
import type { Bus } from '../spine/bus.js';
import type { HubEvents } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';
import { Store, StoreError } from '../store/store.js';

export type CoreResult =
  | { ok: true; events: StoredEvent[]; ticket?: Ticket; duplicate: boolean }
  | { ok: false; error: { code: ErrorCode; message: string } };

/**
 * Version of the engine state written in snapshots. A snapshot of another
 * version is not read: an older one is ignored and the state is rebuilt from
 * the event log (slower start, same state); a newer one stops the start with
 * a message, since this qhub cannot know what it holds.
 */
export const STATE_VERSION = 1;

export interface CoreOptions {
  config: CenterConfig;
  dataDir: string;
  /** The time source; tests pass a fake one. */
  clock?: () => number;
  log?: Logger;
  /** Where committed events are announced; none in tools and the crash test. */
  bus?: Bus<HubEvents>;
  /** Take a snapshot every N events (and at each rollover and stop). */
  snapshotEvery?: number;
}

export class Core implements HubModule {
  readonly name = 'core';
  readonly essential = true;
  readonly store: Store;
  engine: Engine;
  readonly clock: () => number;
  private sinceSnapshot = 0;
  private clockBackSince?: number;
  storageError?: string;

  constructor(private readonly opts: CoreOptions) {
    this.store = new Store(join(opts.dataDir, 'qhub.db'));
    this.engine = new Engine(opts.config);
    this.clock = opts.clock ?? Date.now;
  }

  get config(): CenterConfig {
    return this.opts.config;
  }

  /** Opens the store and rebuilds the state from it; then rolls the day over if due. */
  start(): void {
    this.store.open();
    const snap = this.readSnapshot();
    this.engine = new Engine(this.opts.config, snap?.state);
    let replayed = 0;
    for (const e of this.store.replay(snap?.seq ?? 0)) {
      this.engine.apply(e);
      replayed++;
    }
    this.opts.log?.info({ seq: this.store.lastSeq, snapshot: snap?.seq ?? 0, replayed, day: this.engine.state.day }, 'state rebuilt from the store');
    const r = this.tick();
    if (!r.ok) throw new StoreError(r.error.message);
  }

  private readSnapshot(): { seq: number; state: EngineState } | undefined {
    const snap = this.store.latestSnapshot<EngineState | { v: number; state: EngineState }>();
    if (!snap) return undefined;
    // Snapshots before versioning hold the bare state; they are version 1.
    const wrapped = snap.state && typeof snap.state === 'object' && 'v' in snap.state && 'state' in snap.state;
    const v = wrapped ? (snap.state as { v: number }).v : 1;
    if (v > STATE_VERSION)
      throw new StoreError(
        `${this.store.file}: its latest snapshot (seq ${snap.seq}) has state version ${v}, and this qhub reads ${STATE_VERSION}: it was written by a newer qhub; upgrade qhub, or start with an empty data directory`,
      );
    if (v < STATE_VERSION) {
      this.opts.log?.warn({ snapshot: snap.seq, version: v, reads: STATE_VERSION }, 'snapshot of an older state version: rebuilding the state from the whole event log instead');
      return undefined;
    }
    return { seq: snap.seq, state: wrapped ? (snap.state as { state: EngineState }).state : (snap.state as EngineState) };
  }

  /** Rolls the business day over when it is due. The schedules module calls this on a timer. */
  tick(): CoreResult {
    return this.run(undefined);
  }

  /** Runs one command: rollover if due, decide, commit, apply; the result is the command's own. */
  execute(cmd: Command): CoreResult {
    return this.run(cmd);
  }

  private run(cmd: Command | undefined): CoreResult {
    const now = this.now();
    const committed: StoredEvent[] = [];
    let own: StoredEvent[] = [];
    let rolled = false;
    let result: StepResult | { ok: false; error: { code: ErrorCode; message: string } };
    try {
      result = this.engine.step(cmd, now, (events) => {
        const stored = this.store.append(events);
        committed.push(...stored);
        if (stored.some((e) => e.type === 'day.rolled')) rolled = true;
        else own = stored;
        return stored;
      });
      this.storageError = undefined;
    } catch (e) {
      if (e instanceof StoreError) {
        this.storageError = e.message;
        this.opts.log?.error({ err: e }, 'could not commit events: the command is refused and nothing changed');
        result = { ok: false, error: { code: 'storage_failed', message: ERROR_CODES.storage_failed } };
      } else {
        // A malformed command that slipped past validation must not take the hub down.
        this.opts.log?.error({ err: e, cmd: cmd?.type }, 'engine failed on a command');
        result = { ok: false, error: { code: 'invalid_command', message: (e as Error).message } };
      }
    } finally {
      // Whatever was committed (a rollover before a refused command, say) is announced.
      if (committed.length) this.committed(committed, rolled, cmd);
    }
    if (!result.ok) return { ok: false, error: { code: result.error.code, message: result.error.message } };
    const ticket = result.ticket ? this.engine.state.tickets[result.ticket] : undefined;
    return { ok: true, events: cmd ? own : committed, duplicate: result.duplicate, ...(ticket ? { ticket } : {}) };
  }

  private committed(events: StoredEvent[], rolled: boolean, cmd: Command | undefined): void {
    this.sinceSnapshot += events.length;
    if (rolled || this.sinceSnapshot >= (this.opts.snapshotEvery ?? 2000)) this.snapshot();
    this.opts.bus?.emit('committed', cmd ? { events, command: cmd } : { events });
  }

  private now(): number {
    const now = this.clock();
    const last = this.engine.state.lastAt;
    if (now < last - 60_000) {
      if (this.clockBackSince === undefined) {
        this.clockBackSince = now;
        this.opts.log?.warn(
          { now: new Date(now).toISOString(), latest: new Date(last).toISOString() },
          'the system clock is behind the latest event: keeping the business day and numbering as they are until it catches up',
        );
      }
    } else if (this.clockBackSince !== undefined) {
      this.clockBackSince = undefined;
      this.opts.log?.info('the system clock has caught up with the event log');
    }
    return now;
  }

  snapshot(): void {
    try {
      this.store.saveSnapshot(this.store.lastSeq, this.clock(), { v: STATE_VERSION, state: this.engine.state });
      this.sinceSnapshot = 0;
    } catch (e) {
      this.opts.log?.warn({ err: e }, 'could not save a snapshot (the event log is intact)');
    }
  }

  health(): ModuleHealth {
    return {
      ok: !this.storageError,
      summary: { day: this.engine.state.day, seq: this.store.lastSeq, ...(this.storageError ? { storage: this.storageError } : {}) },
    };
  }

  stop(): void {
    try {
      if (this.store.lastSeq > 0 && this.store.isOpen) this.snapshot();
    } finally {
      this.store.close();
    }
  }
}
