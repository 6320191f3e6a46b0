/**
 * The hub's core: the engine with its durable store. Every command goes
 * decide → commit → apply → publish, synchronously, so commands never
 * interleave and nothing is acknowledged before it is on disk. Everything
 * else in the daemon (broker, devices, announcer, forwarder) listens to the
 * `committed` events this emits.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { CenterConfig } from '../config/schema.js';
import { Engine, type EngineState } from './engine/engine.js';
import { Figures } from './engine/stats.js';
import { ERROR_CODES, type Command, type ErrorCode, type StoredEvent, type Ticket } from './engine/types.js';
import { Store, StoreError } from './store/store.js';

export type CoreResult =
  | { ok: true; events: StoredEvent[]; ticket?: Ticket; duplicate: boolean }
  | { ok: false; error: { code: ErrorCode; message: string } };

export interface CoreEvents {
  committed: [events: StoredEvent[]];
}

export interface CoreOptions {
  config: CenterConfig;
  dataDir: string;
  /** The time source; tests pass a fake one. */
  clock?: () => number;
  log?: Logger;
  /** Take a snapshot every N events (and at each rollover and stop). */
  snapshotEvery?: number;
}

export class Core extends EventEmitter<CoreEvents> {
  readonly store: Store;
  engine: Engine;
  figures: Figures;
  readonly clock: () => number;
  private sinceSnapshot = 0;
  private clockBackSince?: number;
  storageError?: string;

  constructor(private readonly opts: CoreOptions) {
    super();
    this.store = new Store(join(opts.dataDir, 'qhub.db'));
    this.engine = new Engine(opts.config);
    this.figures = new Figures(opts.config.center.timezone);
    this.clock = opts.clock ?? Date.now;
  }

  get config(): CenterConfig {
    return this.opts.config;
  }

  /** Opens the store and rebuilds the state from it; then rolls the day over if due. */
  start(): void {
    this.store.open();
    const snap = this.store.latestSnapshot<EngineState>();
    this.engine = new Engine(this.opts.config, snap?.state);
    let replayed = 0;
    for (const e of this.store.replay(snap?.seq ?? 0)) {
      this.engine.apply(e);
      replayed++;
    }
    this.rebuildFigures();
    this.opts.log?.info(
      { seq: this.store.lastSeq, snapshot: snap?.seq ?? 0, replayed, day: this.engine.state.day },
      'state rebuilt from the store',
    );
    const r = this.tick();
    if (!r.ok) throw new StoreError(r.error.message);
  }

  private rebuildFigures(): void {
    this.figures = new Figures(this.opts.config.center.timezone);
    if (this.engine.state.day) for (const e of this.store.eventsOfDay(this.engine.state.day)) this.figures.add(e);
  }

  /** Rolls the business day over when it is due. The daemon calls this on a timer. */
  tick(): CoreResult {
    return this.rollover(this.now());
  }

  private rollover(now: number): CoreResult {
    return this.commit(this.engine.stamp(this.engine.decideRollover(now), now));
  }

  /** Runs one command: rollover if due, decide, commit, apply, announce. */
  execute(cmd: Command): CoreResult {
    const now = this.now();
    const rolled = this.rollover(now);
    if (!rolled.ok) return rolled;
    let decision;
    try {
      decision = this.engine.decide(cmd, now);
    } catch (e) {
      // A malformed command that slipped past validation must not take the hub down.
      this.opts.log?.error({ err: e, cmd: cmd.type }, 'engine failed on a command');
      return { ok: false, error: { code: 'invalid_command', message: (e as Error).message } };
    }
    if (!decision.ok) return { ok: false, error: { code: decision.error.code, message: decision.error.message } };
    if (decision.duplicate) {
      const ticket = decision.ticket ? this.engine.state.tickets[decision.ticket] : undefined;
      return { ok: true, events: [], duplicate: true, ...(ticket ? { ticket } : {}) };
    }
    const r = this.commit(this.engine.stamp(decision.events, now, cmd));
    if (!r.ok) return r;
    const ticket = decision.ticket ? this.engine.state.tickets[decision.ticket] : undefined;
    return { ...r, ...(ticket ? { ticket } : {}) };
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

  private commit(events: ReturnType<Engine['stamp']>): CoreResult {
    if (!events.length) return { ok: true, events: [], duplicate: false };
    let stored: StoredEvent[];
    try {
      stored = this.store.append(events);
      this.storageError = undefined;
    } catch (e) {
      this.storageError = (e as Error).message;
      this.opts.log?.error({ err: e }, 'could not commit events: the command is refused and nothing changed');
      return { ok: false, error: { code: 'storage_failed', message: ERROR_CODES.storage_failed } };
    }
    let rolled = false;
    for (const e of stored) {
      this.engine.apply(e);
      if (e.type === 'day.rolled') {
        rolled = true;
        this.figures = new Figures(this.opts.config.center.timezone);
      }
      this.figures.add(e);
    }
    this.sinceSnapshot += stored.length;
    if (rolled || this.sinceSnapshot >= (this.opts.snapshotEvery ?? 2000)) this.snapshot();
    this.emit('committed', stored);
    return { ok: true, events: stored, duplicate: false };
  }

  snapshot(): void {
    try {
      this.store.saveSnapshot(this.store.lastSeq, this.now(), this.engine.state);
      this.sinceSnapshot = 0;
    } catch (e) {
      this.opts.log?.warn({ err: e }, 'could not save a snapshot (the event log is intact)');
    }
  }

  stop(): void {
    try {
      if (this.store.lastSeq > 0) this.snapshot();
    } finally {
      this.store.close();
    }
  }
}

