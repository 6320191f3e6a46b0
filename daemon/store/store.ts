/**
 * The durable store: one SQLite file (WAL, synchronous=FULL) holding the
 * event log, state snapshots and the read positions of whoever consumes the
 * log (forwarders, reports). Events get a gap-free increasing `seq` and are
 * committed before anyone is told: one transaction per append, or one for a
 * whole group of commands (`transaction`).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { QueueEvent, StoredEvent } from '../../contract/queue.js';

/** `PRAGMA user_version` of a store this qhub writes; a higher one is refused (open, restore). */
export const SCHEMA_VERSION = 1;

/** What a technician reads when a write failed: a full disk is named as such, with what to do. */
export function writeFailure(file: string, e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === 'SQLITE_FULL' || code === 'ENOSPC')
    return `the disk holding ${dirname(file)} is full, nothing was saved: free space there (old backups, reports, logs); the hub takes commands again by itself once there is room`;
  return `could not write to ${file}: ${(e as Error).message}`;
}

/** Rows of the events table as the events they hold. */
function parseRows(rows: { seq: number; body: string }[]): StoredEvent[] {
  return rows.map((r) => ({ ...(JSON.parse(r.body) as QueueEvent), seq: r.seq }));
}

/** `?, ?, …`: n placeholders for an `IN (…)` list. */
const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ');

export class StoreError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

export class Store {
  private db?: Database.Database;
  private last = 0;
  private stmts?: {
    insert: Database.Statement;
    after: Database.Statement;
    byDay: Database.Statement;
    snapshot: Database.Statement;
    saveSnapshot: Database.Statement;
    pruneSnapshots: Database.Statement;
    getCursor: Database.Statement;
    setCursor: Database.Statement;
  };

  constructor(
    readonly file: string,
    /** Read-only (`qhub report` beside a running hub): no writes, no schema changes; the file must exist. */
    readonly opts: { readonly?: boolean } = {},
  ) {}

  open(): void {
    if (this.opts.readonly) return this.openReadOnly();
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      const db = new Database(this.file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION)
        throw new StoreError(`${this.file} was written by a newer qhub (store version ${version}, this one reads ${SCHEMA_VERSION}): upgrade qhub or use another data directory`);
      db.exec(`
        CREATE TABLE IF NOT EXISTS events (
          seq  INTEGER PRIMARY KEY,
          at   INTEGER NOT NULL,
          day  TEXT NOT NULL,
          type TEXT NOT NULL,
          ref  TEXT,
          body TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS events_day ON events(day);
        CREATE INDEX IF NOT EXISTS events_type ON events(type);
        CREATE TABLE IF NOT EXISTS snapshots (
          seq   INTEGER PRIMARY KEY,
          at    INTEGER NOT NULL,
          state TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS cursors (
          name TEXT PRIMARY KEY,
          seq  INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS rollups (
          day  TEXT NOT NULL,
          kind TEXT NOT NULL,
          key  TEXT NOT NULL,
          data TEXT NOT NULL,
          PRIMARY KEY (day, kind, key)
        );
        PRAGMA user_version = ${SCHEMA_VERSION};
      `);
      this.db = db;
      this.stmts = {
        insert: db.prepare('INSERT INTO events (seq, at, day, type, ref, body) VALUES (?, ?, ?, ?, ?, ?)'),
        after: db.prepare('SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?'),
        byDay: db.prepare('SELECT seq, body FROM events WHERE day = ? ORDER BY seq'),
        snapshot: db.prepare('SELECT seq, state FROM snapshots ORDER BY seq DESC LIMIT 1'),
        saveSnapshot: db.prepare('INSERT OR REPLACE INTO snapshots (seq, at, state) VALUES (?, ?, ?)'),
        pruneSnapshots: db.prepare('DELETE FROM snapshots WHERE seq NOT IN (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT 3)'),
        getCursor: db.prepare('SELECT seq FROM cursors WHERE name = ?'),
        setCursor: db.prepare('INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET seq = excluded.seq'),
      };
      this.last = (db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM events').get() as { s: number }).s;
    } catch (e) {
      if (e instanceof StoreError) throw e;
      throw new StoreError(`cannot open the store ${this.file}: ${(e as Error).message} (check the data directory exists, is writable and the disk is not full)`, e);
    }
  }

  /** A reader beside the running hub: WAL lets it read committed data while the hub writes. */
  private openReadOnly(): void {
    let db: Database.Database | undefined;
    try {
      db = new Database(this.file, { readonly: true, fileMustExist: true });
      db.pragma('busy_timeout = 5000');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION)
        throw new StoreError(`${this.file} was written by a newer qhub (store version ${version}, this one reads ${SCHEMA_VERSION}): upgrade qhub`);
      this.db = db;
      this.hasRollups = !!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rollups'").get();
      this.last = (db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM events').get() as { s: number }).s;
    } catch (e) {
      db?.close();
      this.db = undefined;
      if (e instanceof StoreError) throw e;
      throw new StoreError(`cannot read the store ${this.file}: ${(e as Error).message} (check --data points at the hub's data directory)`, e);
    }
  }

  private hasRollups = true;

  /** Stores one rollup (a day's figures of one kind), replacing an older one. */
  saveRollup(day: string, kind: string, key: string, data: unknown): void {
    if (!this.db) throw new StoreError('the store is not open');
    this.db.prepare('INSERT INTO rollups (day, kind, key, data) VALUES (?, ?, ?, ?) ON CONFLICT(day, kind, key) DO UPDATE SET data = excluded.data').run(day, kind, key, JSON.stringify(data));
  }

  /** Rollups of a kind for days from `first` to `last` (inclusive), by day. */
  rollups<T>(kind: string, first: string, last: string): { day: string; key: string; data: T }[] {
    if (!this.db) throw new StoreError('the store is not open');
    if (!this.hasRollups) return [];
    return (this.db.prepare('SELECT day, key, data FROM rollups WHERE kind = ? AND day >= ? AND day <= ? ORDER BY day, key').all(kind, first, last) as { day: string; key: string; data: string }[]).map(
      (r) => ({ day: r.day, key: r.key, data: JSON.parse(r.data) as T }),
    );
  }

  /** Business days that have events, from `first` to `last` (inclusive). */
  daysWithEvents(first: string, last: string): string[] {
    if (!this.db) throw new StoreError('the store is not open');
    return (this.db.prepare('SELECT DISTINCT day FROM events WHERE day >= ? AND day <= ? ORDER BY day').all(first, last) as { day: string }[]).map((r) => r.day);
  }

  private get s() {
    if (!this.stmts) throw new StoreError('the store is not open');
    return this.stmts;
  }

  get isOpen(): boolean {
    return this.db !== undefined;
  }

  get lastSeq(): number {
    return this.last;
  }

  /**
   * Appends events and returns them with their seq: in the caller's
   * transaction when there is one (a group commit), else in one of its own.
   * Throws StoreError (disk full, I/O error) with nothing written.
   */
  append(events: QueueEvent[]): StoredEvent[] {
    if (!events.length) return [];
    const s = this.s;
    const write = () => {
      const out: StoredEvent[] = [];
      let seq = this.last;
      for (const e of events) {
        seq++;
        s.insert.run(seq, e.at, e.day, e.type, e.ref ?? null, JSON.stringify(e));
        out.push({ ...e, seq });
      }
      this.last = seq;
      return out;
    };
    const last = this.last;
    try {
      // In a group commit the enclosing transaction() rolls everything back if this fails.
      return this.db!.inTransaction ? write() : this.db!.transaction(write)();
    } catch (e) {
      this.last = last;
      throw new StoreError(writeFailure(this.file, e), e);
    }
  }

  /**
   * Runs `fn` in one transaction: every append inside it is written with one
   * fsync at the end (a group commit). If `fn` or the commit throws, nothing
   * of it is written, `lastSeq` is as before, and a StoreError is thrown.
   */
  transaction<T>(fn: () => T): T {
    const db = this.db;
    if (!db) throw new StoreError('the store is not open');
    const last = this.last;
    try {
      return db.transaction(fn)();
    } catch (e) {
      this.last = last;
      if (e instanceof StoreError) throw e;
      throw new StoreError(writeFailure(this.file, e), e);
    }
  }

  /** Events after `seq`, oldest first, at most `limit`. */
  readAfter(seq: number, limit = 1000): StoredEvent[] {
    return parseRows(this.s.after.all(seq, limit) as { seq: number; body: string }[]);
  }

  /** Every event after `seq`, in pages, without holding them all in memory. */
  *replay(afterSeq = 0, page = 5000): Generator<StoredEvent> {
    let from = afterSeq;
    for (;;) {
      const batch = this.readAfter(from, page);
      if (!batch.length) return;
      yield* batch;
      from = batch[batch.length - 1]!.seq;
    }
  }

  /**
   * The events of one business day, oldest first; with `types`, only those
   * (the hub's boards at start want the day's calls, not its every event:
   * the other rows are neither read into objects nor parsed).
   */
  eventsOfDay(day: string, types?: readonly string[]): StoredEvent[] {
    if (!this.db) throw new StoreError('the store is not open');
    let rows: { seq: number; body: string }[];
    if (types) {
      if (!types.length) return [];
      rows = this.db.prepare(`SELECT seq, body FROM events WHERE day = ? AND type IN (${marks(types.length)}) ORDER BY seq`).all(day, ...types) as typeof rows;
    } else rows = (this.stmts ? this.stmts.byDay : this.db.prepare('SELECT seq, body FROM events WHERE day = ? ORDER BY seq')).all(day) as typeof rows;
    return parseRows(rows);
  }

  /**
   * Every event of these types still in the log, oldest first (device
   * presence and alerts at start: what the hub knew before a restart). A scan
   * of the log: call it at start, not per request.
   */
  eventsOfTypes(types: string[]): StoredEvent[] {
    if (!this.db) throw new StoreError('the store is not open');
    if (!types.length) return [];
    const rows = this.db.prepare(`SELECT seq, body FROM events WHERE type IN (${marks(types.length)}) ORDER BY seq`).all(...types) as { seq: number; body: string }[];
    return parseRows(rows);
  }

  /**
   * The latest event of each of these types per device (`body.device`), on
   * days other than `exceptDay`, oldest first: what a restart needs of the
   * devices' history (their last arrival and departure) without reading a
   * month of presence events. With `fields`, also each device's latest event
   * of these types that has that field (a model or firmware last reported
   * before the latest arrival). SQLite picks them; only these rows are parsed.
   */
  latestPerDevice(types: readonly string[], exceptDay: string, fields: readonly string[] = []): StoredEvent[] {
    if (!this.db) throw new StoreError('the store is not open');
    if (!types.length) return [];
    const ofTypes = `type IN (${marks(types.length)}) AND day <> ?`;
    const latest = [
      `SELECT max(seq) FROM events WHERE ${ofTypes} GROUP BY type, json_extract(body, '$.device')`,
      ...fields.map(() => `SELECT max(seq) FROM events WHERE ${ofTypes} AND json_extract(body, ?) IS NOT NULL GROUP BY json_extract(body, '$.device')`),
    ];
    const params = [...types, exceptDay, ...fields.flatMap((f) => [...types, exceptDay, `$.${f}`])];
    const rows = this.db.prepare(`SELECT seq, body FROM events WHERE seq IN (${latest.join(' UNION ')}) ORDER BY seq`).all(...params) as { seq: number; body: string }[];
    return parseRows(rows);
  }

  latestSnapshot<T>(): { seq: number; state: T } | undefined {
    const row = this.s.snapshot.get() as { seq: number; state: string } | undefined;
    return row ? { seq: row.seq, state: JSON.parse(row.state) as T } : undefined;
  }

  saveSnapshot(seq: number, at: number, state: unknown): void {
    this.db!.transaction(() => {
      this.s.saveSnapshot.run(seq, at, JSON.stringify(state));
      this.s.pruneSnapshots.run();
    })();
  }

  /**
   * Deletes events up to `maxSeq` that are older than `beforeAt`, never one
   * after the latest snapshot (the state is rebuilt from it plus the events
   * after it). Returns how many were deleted.
   */
  prune(maxSeq: number, beforeAt: number): number {
    const snap = (this.db!.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM snapshots').get() as { s: number }).s;
    const upTo = Math.min(maxSeq, snap);
    return this.db!.prepare('DELETE FROM events WHERE seq <= ? AND at < ?').run(upTo, beforeAt).changes;
  }

  private readonly registered = new Set<string>();
  /**
   * Names a reader of the log (a forwarder, a report job) whose cursor holds
   * back pruning: an event is deleted only once every registered reader has
   * read past it (daemon/store/retention.ts).
   */
  registerReader(name: string): void {
    this.registered.add(name);
  }

  readers(): string[] {
    return [...this.registered];
  }

  cursor(name: string): number {
    return (this.s.getCursor.get(name) as { seq: number } | undefined)?.seq ?? 0;
  }

  setCursor(name: string, seq: number): void {
    this.s.setCursor.run(name, seq);
  }

  /**
   * A copy of the live store into `file` with SQLite's online backup API,
   * `pagesPerStep` pages at a time between other work on the event loop;
   * commits made meanwhile (on this connection) are carried into the copy.
   * Returns the events the store held when the copy finished, which the copy
   * must hold too.
   */
  async backupTo(file: string, pagesPerStep = 100): Promise<{ events: number; lastSeq: number }> {
    const db = this.db;
    if (!db) throw new StoreError('the store is not open');
    await db.backup(file, { progress: () => pagesPerStep });
    // Right after the last step, before any other commit can run: the copy's state.
    return db.prepare('SELECT COUNT(*) AS events, COALESCE(MAX(seq), 0) AS lastSeq FROM events').get() as { events: number; lastSeq: number };
  }

  close(): void {
    if (!this.db) return;
    if (this.opts.readonly) {
      this.db.close();
      this.db = undefined;
      return;
    }
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      /* a checkpoint is an optimisation; the WAL is replayed at the next open */
    }
    this.db.close();
    this.db = undefined;
    this.stmts = undefined;
  }
}
