/**
 * `qhub.pid` in the data directory: written by the daemon once it holds the
 * store, removed when it stops. `qhub restore` (and anything else that must
 * not touch a live store) asks `runningDaemon` first. A file left by a
 * crash is recognised as stale: its process is gone, or is not a qhub.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PID_FILE = 'qhub.pid';

export function writePidFile(dataDir: string, pid = process.pid): void {
  writeFileSync(join(dataDir, PID_FILE), `${pid}\n`);
}

/** Removes the file if it is ours (a second daemon started by mistake does not remove the first one's). */
export function removePidFile(dataDir: string, pid = process.pid): void {
  try {
    if (Number(readFileSync(join(dataDir, PID_FILE), 'utf8').trim()) === pid) rmSync(join(dataDir, PID_FILE));
  } catch {
    /* already gone */
  }
}

/** The pid of a qhub daemon running on this data directory, if there is one. */
export function runningDaemon(dataDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dataDir, PID_FILE), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it exists but belongs to another user (the qhub service user, seen from a technician's shell).
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  // A pid reused after a crash by an unrelated program is not a daemon.
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!/qhub|daemon\/cli\.js/.test(cmd)) return undefined;
  } catch {
    /* no /proc: trust the signal check */
  }
  return pid;
}
