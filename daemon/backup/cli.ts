/**
 * `qhub backup [--out FILE]` and `qhub restore FILE`.
 *
 * backup: a checked copy of the store file, made through a second SQLite
 * connection (safe while the daemon runs: WAL readers see one consistent
 * snapshot), into --out or the configured backup folder (rotated).
 * restore: only with the daemon stopped; refuses a damaged file or one from a
 * newer qhub; keeps the store it replaces as qhub.db.before-restore-<time>.
 */
import { chownSync, copyFileSync, existsSync, fsyncSync, closeSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkCenterFile, formatProblem } from '../../config/load.js';
import type { CenterConfig } from '../../config/schema.js';
import { backupName, backupStoreFile, checkChecksum, checkStoreFile, rotate } from './backup.js';
import { backupFolder } from './module.js';
import { runningDaemon } from './pidfile.js';

const STORE = 'qhub.db';

/** The config when there is one to read (for the data directory and the backup folder); problems are printed. */
function loadConfig(file: string): CenterConfig | undefined | null {
  if (!existsSync(file)) return undefined;
  const { loaded, problems } = checkCenterFile(file);
  if (!loaded) {
    for (const p of problems.filter((x) => x.severity === 'error')) console.error(formatProblem(p));
    return null;
  }
  return loaded.config;
}

function dataDirOf(given: string | undefined, config: CenterConfig | undefined): string {
  return resolve(given ?? process.env.QHUB_DATA ?? config?.hub.dataDir ?? 'data');
}

const when = (ms?: number) => (ms ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : 'never');

export const BACKUP_USAGE = `usage: qhub backup [--out FILE] [--config FILE] [--data DIR]
  A checked copy of the event store, into FILE or the config's backup folder
  (default <data>/backups, the oldest rotated out). When the hub runs, the hub
  takes it (over its local socket: root or the qhub group); when it does not,
  the store file is copied directly. The last words say which.`;

export async function backupCommand(args: string[], configPath: (given?: string) => string, o: { hubStopped?: boolean } = {}): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' }, config: { type: 'string' }, data: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) {
    console.log(BACKUP_USAGE);
    return 0;
  }
  const config = loadConfig(configPath(values.config));
  if (config === null) return 1;
  const dataDir = dataDirOf(values.data, config);
  const store = join(dataDir, STORE);
  if (!existsSync(store)) {
    console.error(`${store}: no store here: pass --data DIR (the hub's data directory, /var/lib/qhub on a Pi) or set QHUB_DATA`);
    return 1;
  }
  const folder = config ? backupFolder({ config, dataDir }) : join(dataDir, 'backups');
  const dest = values.out ? resolve(values.out) : join(folder, backupName(new Date()));
  if (values.out && existsSync(dest)) {
    console.error(`${dest}: exists already; give another --out or remove it`);
    return 1;
  }
  try {
    const r = await backupStoreFile(store, dest);
    if (!values.out) rotate(folder, config?.backup.keep ?? 8);
    console.log(`${r.file}: ${r.events} events up to #${r.lastSeq}, ${(r.bytes / 1024).toFixed(0)} KiB, integrity checked (${r.ms} ms)${o.hubStopped ? '; copied from the store file (no hub answers on its socket)' : ''}`);
    return 0;
  } catch (e) {
    console.error(`qhub backup: ${(e as Error).message}`);
    return 1;
  }
}

export const RESTORE_USAGE = `usage: qhub restore FILE [--config FILE] [--data DIR]
  Puts a backup in place of the store, with the hub stopped (systemctl stop qhub).
  Refuses a damaged file or one from a newer qhub. The store it replaces is kept
  beside it as qhub.db.before-restore-<time>.`;

export async function restoreCommand(args: string[], configPath: (given?: string) => string): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { config: { type: 'string' }, data: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  if (values.help) {
    console.log(RESTORE_USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(RESTORE_USAGE);
    return 2;
  }
  const file = resolve(positionals[0]!);
  const config = loadConfig(configPath(values.config));
  if (config === null) return 1;
  const dataDir = dataDirOf(values.data, config);
  const pid = runningDaemon(dataDir);
  if (pid) {
    console.error(`qhub restore: the hub is running on ${dataDir} (pid ${pid}): stop it first (systemctl stop qhub), restore, then start it again`);
    return 1;
  }
  let got: ReturnType<typeof checkStoreFile>;
  let summed = false;
  try {
    summed = checkChecksum(file);
    got = checkStoreFile(file);
  } catch (e) {
    console.error(`qhub restore: refused: ${(e as Error).message}. Nothing was changed.`);
    return 1;
  }
  if (!existsSync(dataDir)) {
    console.error(`${dataDir}: no such data directory: create it (install -d -o qhub -g qhub ${dataDir}) or pass --data DIR`);
    return 1;
  }
  const store = join(dataDir, STORE);
  const owner = statSync(dataDir);
  const stamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const kept = `${store}.before-restore-${stamp}`;
  const incoming = `${store}.restoring`;
  try {
    copyFileSync(file, incoming);
    const fd = openSync(incoming, 'r');
    fsyncSync(fd);
    closeSync(fd);
    // Run as root for a service that runs as qhub: the restored store must be the data directory owner's.
    if (process.getuid?.() === 0) chownSync(incoming, owner.uid, owner.gid);
    if (existsSync(store)) {
      // The WAL and its index go with their database under SQLite's naming, so the kept copy opens whole.
      for (const ext of ['-wal', '-shm']) if (existsSync(store + ext)) renameSync(store + ext, kept + ext);
      renameSync(store, kept);
    }
    renameSync(incoming, store);
    const dfd = openSync(dataDir, 'r');
    fsyncSync(dfd);
    closeSync(dfd);
  } catch (e) {
    rmSync(incoming, { force: true });
    console.error(`qhub restore: ${(e as Error).message}`);
    return 1;
  }
  console.log(
    `${store}: restored from ${file} (${summed ? 'checksum and ' : ''}integrity checked): ${got.events} events up to #${got.lastSeq}, the last at ${when(got.lastAt)}` +
      (existsSync(kept) ? `\nthe store it replaced is kept as ${kept}` : '') +
      '\nstart the hub again: systemctl start qhub',
  );
  return 0;
}
