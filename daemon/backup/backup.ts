/**
 * Backups of the event store: a copy made with SQLite's online backup API
 * (the hub keeps serving meanwhile), written under a temporary name, turned
 * into a single self-contained file (no WAL), checked (integrity check, the
 * events it must hold), then renamed into place and the oldest rotated out.
 *
 * `writeBackup` is the one way a backup is made: by the module on its
 * schedule (the live store), and by `qhub backup` (a second connection to
 * the store file).
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SCHEMA_VERSION } from '../store/store.js';

export class BackupError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'BackupError';
  }
}

export interface BackupResult {
  file: string;
  bytes: number;
  events: number;
  lastSeq: number;
  ms: number;
}

/** What a store file holds, after SQLite's own integrity check; throws BackupError on anything wrong. */
export function checkStoreFile(file: string): { events: number; lastSeq: number; version: number; lastAt?: number } {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const problems = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
    if (problems.length !== 1 || problems[0] !== 'ok') throw new BackupError(`${file} is damaged: SQLite's integrity check says: ${problems.slice(0, 3).join('; ')}`);
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) throw new BackupError(`${file} was written by a newer qhub (store version ${version}; this qhub reads up to ${SCHEMA_VERSION}): restore it with that qhub or newer`);
    const hasEvents = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").get();
    if (!hasEvents) throw new BackupError(`${file} is not a qhub store: it has no events table`);
    const r = db.prepare('SELECT COUNT(*) AS events, COALESCE(MAX(seq), 0) AS lastSeq, MAX(at) AS lastAt FROM events').get() as { events: number; lastSeq: number; lastAt: number | null };
    return { events: r.events, lastSeq: r.lastSeq, version, ...(r.lastAt !== null ? { lastAt: r.lastAt } : {}) };
  } catch (e) {
    if (e instanceof BackupError) throw e;
    const code = (e as { code?: string }).code;
    const why =
      code === 'SQLITE_NOTADB'
        ? 'it is not an SQLite database (wrong file, or its first bytes are damaged)'
        : code === 'SQLITE_CORRUPT'
          ? 'it is damaged (SQLite: database disk image is malformed)'
          : code === 'SQLITE_CANTOPEN'
            ? 'it cannot be opened (does it exist, can this user read it?)'
            : (e as Error).message;
    throw new BackupError(`${file}: ${why}`, e);
  } finally {
    db?.close();
  }
}

/** A sortable, readable file name for a backup made at `at`: qhub-2026-12-04T03-30-00Z.db */
export function backupName(at: Date): string {
  return `qhub-${at.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')}.db`;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function explain(e: unknown, file: string): string {
  const code = (e as { code?: string }).code;
  const folder = dirname(file);
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return `the disk of ${folder} is full: free space or point backup.folder elsewhere`;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'SQLITE_READONLY' || code === 'SQLITE_CANTOPEN')
    return `cannot write in ${folder} (${code}): check it is mounted, writable by the qhub user, and listed in the unit's ReadWritePaths= when outside /var/lib/qhub`;
  if (code === 'ENOTDIR' || code === 'EEXIST') return `${folder} is not a folder: fix backup.folder`;
  return (e as Error).message;
}

/**
 * Copies a store into `dest` and checks the copy. `copy` makes the raw copy
 * at the given path and returns the events the source held when it finished.
 */
export async function writeBackup(dest: string, copy: (tmp: string) => Promise<{ events: number; lastSeq: number }>): Promise<BackupResult> {
  const started = performance.now();
  const tmp = `${dest}.partial`;
  try {
    mkdirSync(dirname(dest), { recursive: true });
    rmSync(tmp, { force: true });
    const live = await copy(tmp);
    // The copy carries the store's WAL mode: make it one self-contained file a plain cp can move.
    const db = new Database(tmp, { fileMustExist: true });
    try {
      db.pragma('journal_mode = DELETE');
    } finally {
      db.close();
    }
    const got = checkStoreFile(tmp);
    if (got.events !== live.events || got.lastSeq !== live.lastSeq)
      throw new BackupError(`the copy holds ${got.events} events up to #${got.lastSeq}, the store held ${live.events} up to #${live.lastSeq}: the copy is not kept`);
    fsyncPath(tmp);
    // A checksum beside it, in sha256sum's format: SQLite's check sees a broken structure, not a changed byte in a row.
    writeFileSync(`${dest}.sha256`, `${sha256(tmp)}  ${basename(dest)}\n`);
    fsyncPath(`${dest}.sha256`);
    renameSync(tmp, dest);
    fsyncPath(dirname(dest));
    return { file: dest, bytes: statSync(dest).size, events: got.events, lastSeq: got.lastSeq, ms: Math.round(performance.now() - started) };
  } catch (e) {
    for (const f of [tmp, `${dest}.sha256`])
      try {
        rmSync(f, { force: true });
      } catch {
        /* the folder itself is the problem */
      }
    if (e instanceof BackupError) throw e;
    throw new BackupError(`backup to ${dest} failed: ${explain(e, dest)}`, e);
  }
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Compares a backup with the checksum written beside it; false when there is none. Throws BackupError when they differ. */
export function checkChecksum(file: string): boolean {
  const side = `${file}.sha256`;
  if (!existsSync(side)) return false;
  const want = readFileSync(side, 'utf8').trim().split(/\s+/)[0];
  if (want !== sha256(file)) throw new BackupError(`${file} has changed since it was written (its checksum differs from ${basename(side)}): the copy is damaged; use an older backup`);
  return true;
}

/** Keeps the `keep` newest backups in `folder` (by name, which is by time); returns the files removed. */
export function rotate(folder: string, keep: number): string[] {
  const all = readdirSync(folder)
    .filter((f) => /^qhub-.*\.db$/.test(f))
    .sort();
  const gone = all.slice(0, Math.max(0, all.length - keep));
  for (const f of gone) for (const x of [f, `${f}.sha256`]) rmSync(join(folder, x), { force: true });
  return gone.map((f) => join(folder, basename(f)));
}

/**
 * A backup of a store file through a second connection (`qhub backup`),
 * safe while the daemon writes: the whole copy is one step, so it is one
 * consistent snapshot (WAL readers do not block the writer, and a step
 * interrupted by another connection's commit would start over).
 */
export async function backupStoreFile(storeFile: string, dest: string): Promise<BackupResult> {
  let src: Database.Database;
  try {
    src = new Database(storeFile, { fileMustExist: true });
    src.pragma('busy_timeout = 5000');
  } catch (e) {
    throw new BackupError(`cannot open the store ${storeFile}: ${(e as Error).message} (is this the data directory? run as root or as the qhub user)`, e);
  }
  try {
    return await writeBackup(dest, async (tmp) => {
      // One read transaction around the count and the copy: both see the same snapshot, whatever the daemon commits meanwhile.
      src.exec('BEGIN');
      try {
        const live = src.prepare('SELECT COUNT(*) AS events, COALESCE(MAX(seq), 0) AS lastSeq FROM events').get() as { events: number; lastSeq: number };
        await src.backup(tmp, { progress: () => 0x7fffffff });
        return live;
      } finally {
        src.exec('COMMIT');
      }
    });
  } finally {
    src.close();
  }
}
