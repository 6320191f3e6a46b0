/**
 * The hub's core: the engine with its durable store, and the only path for
 * commands. Commands are queued (`submit`) and run in groups: every command
 * that arrived while the event loop was busy is decided in order against the
 * state (`Engine.step`: rollover → decide → commit → apply, one decision at a
 * time), all their events go into one SQLite transaction with one fsync, and
 * only then is each caller answered with its own result. The bus hears the
 * group's events after that. Nothing is acknowledged, shown or announced
 * before it is on disk; a burst of 50 presses costs one fsync, not 50.
 *
 * Owns: the Store, the Engine's state, snapshots. May touch: the bus (emit only).
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { CenterConfig } from '../../config/schema.js';
import { Engine, type EngineState, type StepResult } from '../engine/engine.js';
import { ERROR_CODES, type Command, type ErrorCode, type EventBody, type StoredEvent, type Ticket } from '../../contract/queue.js';
import type { Bus } from '../spine/bus.js';
import type { HubEvents } from '../../contract/bus.js';
import type { CoreResult } from '../../contract/ports.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';
import { Store, StoreError } from '../store/store.js';

export type { CoreResult };

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
  /**
   * Take a snapshot after N events (and at each rollover and stop): when the
   * hub is idle for a moment, or at once past 5 × N. A snapshot serialises
   * the day's state (~2 MB after 5,000 tickets, tens of ms), so it waits for
   * a pause rather than delay the calls of a busy minute.
   */
  snapshotEvery?: number;
}

/** The most commands decided in one group commit (bounds one group's latency). */
const MAX_GROUP = 256;

interface Pending {
  cmd: Command | undefined;
  /** Facts the hub observed (a device came or went), recorded as they are; no command decides them. */
  facts?: { events: EventBody[]; source?: string };
  resolve: (r: CoreResult) => void;
}

export class Core implements HubModule {
  readonly name = 'core';
  readonly essential = true;
  readonly store: Store;
  engine: Engine;
  readonly clock: () => number;
  private sinceSnapshot = 0;
  private clockBackSince?: number;
  private queue: Pending[] = [];
  private scheduled = false;
  private groups = 0;
  private commands = 0;
  storageError?: string;

  constructor(private readonly opts: CoreOptions) {
    this.store = new Store(join(opts.dataDir, 'qhub.db'));
    this.engine = new Engine(opts.config);
    this.clock = opts.clock ?? Date.now;
  }

  get config(): CenterConfig {
    return this.opts.config;
  }

  /**
   * A reloaded config: the engine takes the new services, windows and queue
   * rules over the same state (tickets, numbers, assignments stay), between
   * two command groups.
   */
  reload(config: CenterConfig): void {
    this.opts.config = config;
    this.engine = new Engine(config, this.engine.state);
  }

  /** Opens the store and rebuilds the state from it; then rolls the day over if due. */
  async start(): Promise<void> {
    this.store.open();
    this.load();
    const r = await this.tick();
    if (!r.ok) throw new StoreError(r.error.message);
  }

  /** The engine's state from the latest usable snapshot plus the log after it. */
  private load(): void {
    const snap = this.readSnapshot();
    this.engine = new Engine(this.opts.config, snap?.state);
    let replayed = 0;
    for (const e of this.store.replay(snap?.seq ?? 0)) {
      this.engine.apply(e);
      replayed++;
    }
    this.opts.log?.info({ seq: this.store.lastSeq, snapshot: snap?.seq ?? 0, replayed, day: this.engine.state.day }, 'state rebuilt from the store');
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

  /**
   * Records facts the hub observed but no command decided (device presence),
   * in the same log, order and group commits as everything else; resolves
   * once they are on disk. Never rejects.
   */
  note(events: EventBody[], source?: string): Promise<CoreResult> {
    return new Promise((resolve) => this.enqueue({ cmd: undefined, facts: { events, ...(source ? { source } : {}) }, resolve }));
  }

  private record(f: { events: EventBody[]; source?: string }, committed: StoredEvent[]): CoreResult {
    const stored = this.store.append(this.engine.stamp(f.events, this.now(), f.source ? { source: f.source } : undefined));
    for (const e of stored) this.engine.apply(e);
    committed.push(...stored);
    return { ok: true, events: stored, duplicate: false };
  }

  private readonly commitWatchers: ((ms: number, commands: number) => void)[] = [];
  /** Called after each group commit with its duration (ms, on the monotonic clock) and its size: store latency for metrics. */
  onCommit(fn: (ms: number, commands: number) => void): void {
    this.commitWatchers.push(fn);
  }

  /** Commands waiting for the next group. */
  get pending(): number {
    return this.queue.length;
  }

  /** Rolls the business day over when it is due. The schedules module calls this on a timer. */
  tick(): Promise<CoreResult> {
    return this.submit(undefined);
  }

  /**
   * Queues one command (none: only the rollover check) and resolves with its
   * own result once its events are on disk: rollover if due, decide, commit,
   * apply. Never rejects.
   */
  submit(cmd: Command | undefined): Promise<CoreResult> {
    return new Promise((resolve) => this.enqueue({ cmd, resolve }));
  }

  private enqueue(p: Pending): void {
    this.queue.push(p);
    if (!this.scheduled) {
      this.scheduled = true;
      // After the I/O phase: every request read from the sockets meanwhile joins this group.
      setImmediate(() => this.flush());
    }
  }

  /** Decides the queued commands in order, commits them in one transaction, then answers them. */
  private flush(): void {
    this.scheduled = false;
    const group = this.queue.splice(0, MAX_GROUP);
    if (this.queue.length) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    if (!group.length) return;
    const committed: StoredEvent[] = [];
    const results: CoreResult[] = [];
    let rolled = false;
    const t0 = performance.now();
    try {
      this.store.transaction(() => {
        for (const p of group) results.push(p.facts ? this.record(p.facts, committed) : this.decide(p.cmd, committed, () => (rolled = true)));
      });
      this.storageError = undefined;
    } catch (e) {
      // Nothing of the group is on disk: the state goes back to what the store holds, every command is refused.
      this.storageError = (e as Error).message;
      this.opts.log?.error({ err: e, commands: group.length }, 'could not commit events: the commands are refused and nothing changed');
      try {
        this.load();
      } catch (le) {
        this.opts.log?.fatal({ err: le }, 'could not reload the state from the store after a failed commit');
      }
      for (const p of group) p.resolve({ ok: false, error: { code: 'storage_failed', message: ERROR_CODES.storage_failed } });
      return;
    }
    const ms = performance.now() - t0;
    for (const w of this.commitWatchers) {
      try {
        w(ms, group.length);
      } catch {
        /* a watcher never stops a commit */
      }
    }
    this.groups++;
    this.commands += group.length;
    this.sinceSnapshot += committed.length;
    const every = this.opts.snapshotEvery ?? 2000;
    if (rolled || this.sinceSnapshot >= 5 * every) this.snapshot();
    else if (this.sinceSnapshot >= every) this.snapshotWhenIdle();
    group.forEach((p, i) => p.resolve(results[i]!));
    if (committed.length) this.opts.bus?.emit('committed', { events: committed });
  }

  /** One command of a group, inside the group's transaction; store errors propagate (the whole group fails). */
  private decide(cmd: Command | undefined, committed: StoredEvent[], onRollover: () => void): CoreResult {
    const now = this.now();
    let own: StoredEvent[] = [];
    let rolled: StoredEvent[] = [];
    let result: StepResult;
    try {
      result = this.engine.step(cmd, now, (events) => {
        const stored = this.store.append(events);
        committed.push(...stored);
        if (stored.some((e) => e.type === 'day.rolled')) {
          onRollover();
          rolled = stored;
        } else if (!own.length) own = stored; // the command's own batch, not the "turn is near" one after it
        return stored;
      });
    } catch (e) {
      if (e instanceof StoreError) throw e;
      // A malformed command that slipped past validation must not take the hub down.
      this.opts.log?.error({ err: e, cmd: cmd?.type }, 'engine failed on a command');
      return { ok: false, error: { code: 'invalid_command', message: (e as Error).message } };
    }
    if (!result.ok) return { ok: false, error: { code: result.error.code, message: result.error.message } };
    const t = result.ticket ? this.engine.state.tickets[result.ticket] : undefined;
    // A copy: later commands of the same group may change the live ticket before the caller reads it.
    return { ok: true, events: cmd ? own : rolled, duplicate: result.duplicate, ...(t ? { ticket: { ...t } } : {}) };
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

  private idleTimer?: NodeJS.Timeout;
  private snapshotWhenIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.queue.length || !this.store.isOpen) return;
      if (this.sinceSnapshot >= (this.opts.snapshotEvery ?? 2000)) this.snapshot();
    }, 500);
    this.idleTimer.unref();
  }

  snapshot(): void {
    clearTimeout(this.idleTimer);
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
      detail: { groups: this.groups, commands: this.commands },
    };
  }

  stop(): void {
    // Commands already queued are decided and committed before the store closes.
    while (this.queue.length && this.store.isOpen) this.flush();
    try {
      if (this.store.lastSeq > 0 && this.store.isOpen) this.snapshot();
    } finally {
      this.store.close();
    }
  }
}
