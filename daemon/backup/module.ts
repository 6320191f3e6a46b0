/**
 * Module `backup`: the store copied on a schedule (node-cron, in the center's
 * time zone; weekly by default) into the backup folder, checked, rotated.
 * Each backup and each failure is logged; the last of each shows in /health,
 * and a failure since the last good backup makes the hub "degraded".
 *
 * Owns: the backup folder. May touch: the core's store (read, through its
 * online backup API).
 */
import { schedule, type ScheduledTask } from 'node-cron';
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';
import { backupName, rotate, writeBackup, type BackupResult } from './backup.js';

export function backupFolder(ctx: Pick<HubContext, 'config' | 'dataDir'>): string {
  const f = ctx.config.backup.folder;
  return f === undefined ? join(ctx.dataDir, 'backups') : isAbsolute(f) ? f : resolve(ctx.dataDir, f);
}

export class Backups implements HubModule {
  readonly name = 'backup';
  private readonly log: Logger;
  private task?: ScheduledTask;
  private running?: Promise<BackupResult | undefined>;
  private last?: BackupResult & { at: string };
  private lastError?: { at: string; message: string };

  constructor(private readonly ctx: HubContext) {
    this.log = ctx.log.child({ mod: 'backup' });
  }

  start(): void {
    const c = this.ctx.config.backup;
    if (!c.enabled) return;
    const tz = this.ctx.config.center.timezone;
    const log = this.log;
    this.task = schedule(c.schedule, () => this.run(), {
      timezone: tz,
      name: 'qhub-backup',
      noOverlap: true,
      logger: { info: (m) => log.debug(m), warn: (m) => log.warn(m), error: (m) => log.error(String(m)), debug: (m) => log.debug(String(m)) },
    });
    this.log.info({ schedule: c.schedule, timezone: tz, folder: backupFolder(this.ctx), keep: c.keep }, 'backups scheduled');
  }

  /** One backup now; never throws (a failure is logged and shown in /health). */
  run(): Promise<BackupResult | undefined> {
    return (this.running ??= this.once().finally(() => (this.running = undefined)));
  }

  /**
   * A backup asked for by a person (`qhub backup` through the socket: the
   * `hub.backup` action), taken by this process, which owns the store: into
   * `out` (an absolute path, not overwritten) or the backup folder (rotated).
   * Throws what went wrong, after logging it.
   */
  async take(out?: string): Promise<BackupResult> {
    if (out && existsSync(out)) throw new Error(`${out}: exists already; give another --out or remove it`);
    // One at a time: a scheduled backup in progress finishes first.
    await this.running;
    const p: Promise<BackupResult | undefined> = this.once(out).finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
    const r = await p;
    if (!r) throw new Error(this.lastError?.message ?? 'backup failed');
    return r;
  }

  private async once(out?: string): Promise<BackupResult | undefined> {
    const folder = backupFolder(this.ctx);
    const dest = out ?? join(folder, backupName(new Date()));
    try {
      const r = await writeBackup(dest, (tmp) => this.ctx.core.store.backupTo(tmp));
      const removed = out ? [] : rotate(folder, this.ctx.config.backup.keep);
      this.last = { ...r, at: new Date().toISOString() };
      this.log.info({ file: r.file, bytes: r.bytes, events: r.events, seq: r.lastSeq, ms: r.ms, removed }, `backup written and checked: ${r.file} (${r.events} events, up to #${r.lastSeq})`);
      return r;
    } catch (e) {
      this.lastError = { at: new Date().toISOString(), message: (e as Error).message };
      this.log.error({ err: e, folder }, `backup failed: ${(e as Error).message}`);
      return undefined;
    }
  }

  async stop(): Promise<void> {
    await this.task?.stop();
    // A backup in progress finishes before the store closes.
    await this.running;
  }

  health(): ModuleHealth {
    const failing = !!this.lastError && (!this.last || this.lastError.at > this.last.at);
    return {
      ok: !failing,
      detail: {
        folder: backupFolder(this.ctx),
        schedule: this.ctx.config.backup.enabled ? this.ctx.config.backup.schedule : 'off',
        ...(this.last ? { last: { at: this.last.at, file: this.last.file, bytes: this.last.bytes, events: this.last.events, seq: this.last.lastSeq } } : {}),
        ...(this.lastError ? { lastError: this.lastError } : {}),
      },
    };
  }
}
