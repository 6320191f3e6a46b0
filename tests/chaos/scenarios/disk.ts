/**
 * A full disk: the data directory on a small tmpfs, filled up by another
 * file while the hub runs. Presses then get a clear error (not a ticket),
 * the log says the disk is full, `qhub backup` and `qhub report` fail with a
 * message and no stack trace; once space returns the same presses, retried
 * with their ids, get their tickets, and nothing acknowledged is lost.
 */
import { execFile, execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, type RunningHub } from '../../helpers/hub.js';
import type { Scenario } from '../scenario.js';
import { type Ack, Children, checkLog, chaosCenter, Device, freePort, health, readLog, startTimed } from '../lib.js';

/** The first line of the hub's log from index `from` that matches, as soon as it is read; undefined after `ms`. */
function logLine(hub: RunningHub, from: number, pred: (l: Record<string, unknown>) => boolean, ms: number): Promise<Record<string, unknown> | undefined> {
  const find = () => hub.logs.slice(from).find(pred);
  const now = find();
  if (now) return Promise.resolve(now);
  return new Promise((resolve) => {
    const out = hub.proc.stdout!;
    const done = (l: Record<string, unknown> | undefined) => (clearTimeout(timer), out.off('data', check), resolve(l));
    // The helper's own 'data' listener came first: the lines of this chunk are in hub.logs already.
    const check = () => {
      const l = find();
      if (l) done(l);
    };
    const timer = setTimeout(() => done(undefined), ms);
    out.on('data', check);
  });
}

/** Writes zeros into `file` until the file system refuses (ENOSPC); returns the bytes written. */
function fill(file: string): number {
  const fd = openSync(file, 'a');
  const chunk = Buffer.alloc(64 * 1024);
  let n = 0;
  try {
    for (;;) n += writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
    // The last bytes: smaller writes until nothing fits.
    for (let size = 32 * 1024; size >= 1; size = Math.floor(size / 2))
      try {
        for (;;) n += writeSync(fd, chunk.subarray(0, size));
      } catch {
        /* next size down */
      }
  } finally {
    closeSync(fd);
  }
  return n;
}

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000, env: { ...process.env, NODE_ENV: 'test', INVOCATION_ID: '' } }, (e, out, err) =>
      resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out: String(out), err: String(err) }),
    );
  });
}

export const disk: Scenario = {
  name: 'disk',
  title: 'a full disk (the data directory on a small tmpfs): refused, not acknowledged; clear errors; recovery',
  budgetMs: { full: 240_000, short: 150_000 },
  async run(ctx) {
    const rounds = ctx.short ? 1 : 3;
    const children = new Children();
    const problems: string[] = [];
    const mnt = join(ctx.workDir, 'tmpfs');
    mkdirSync(mnt, { recursive: true });
    const figures: Record<string, number | string | boolean | null> = {};
    try {
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mnt], { stdio: 'pipe' });
      } catch (e) {
        return { passed: false, figures: {}, problems: [`cannot mount a tmpfs (root needed): ${(e as Error).message.split('\n')[0]}`] };
      }
      children.add(async () => execFileSync('umount', ['-l', mnt], { stdio: 'ignore' }));
      const dataDir = join(mnt, 'data');
      const mqttPort = await freePort();
      const { config } = chaosCenter({ mqttPort });
      let hub: RunningHub | undefined;
      children.add(async () => hub?.kill());
      hub = (await startTimed(config, dataDir)).hub;
      const disp = new Device('disp-1', mqttPort);
      await disp.start();
      children.add(() => disp.close());
      const acks: Ack[] = [];
      let k = 0;
      let refusedWhileFull = 0;
      let ackedWhileFull = 0;
      let recovered = 0;
      let clearDeviceError = true;
      let backupClean = true;
      let reportClean = true;
      const filler = join(mnt, 'filler');
      for (let round = 0; round < rounds && !ctx.signal.aborted; round++) {
        const press = async (transient: string[]) => {
          const id = `d${++k}`;
          const r = await disp.request('press', id, { service: 'intake' }, AbortSignal.any([ctx.signal, AbortSignal.timeout(20_000)]), 3000, transient);
          return { id, r };
        };
        for (let i = 0; i < 20; i++) {
          const { id, r } = await press(['rate_limited']);
          if (r?.leaf === 'ticket') acks.push({ device: 'disp-1', id, kind: 'press', number: (r.body.ticket as { t: string }).t });
        }
        const logMark = hub.logs.length;
        const filled = fill(filler);
        figures.filledBytes = filled;
        // The disk is full: presses until the hub refuses one (the WAL may still have room for a few).
        let refusal: { id: string; body: Record<string, unknown> } | undefined;
        for (let i = 0; i < 300 && !refusal; i++) {
          const { id, r } = await press([]);
          if (r?.leaf === 'ticket') {
            ackedWhileFull++;
            acks.push({ device: 'disp-1', id, kind: 'press', number: (r.body.ticket as { t: string }).t });
          } else if (r?.leaf === 'error') refusal = { id, body: r.body };
        }
        if (!refusal) {
          problems.push(`round ${round}: 300 presses on a full disk and none was refused`);
          break;
        }
        refusedWhileFull++;
        if (refusal.body.code !== 'storage_failed') {
          clearDeviceError = false;
          problems.push(`round ${round}: the device got ${JSON.stringify(refusal.body)}, not storage_failed`);
        }
        figures.deviceError = String(refusal.body.message);
        // The refusal comes over MQTT and the hub's log line over its stdout: on a busy machine the line may come second.
        const errLine = await logLine(hub, logMark, (l) => (l.level as number) >= 50, 10_000);
        const errText = errLine ? JSON.stringify(errLine) : '';
        figures.logError = errLine ? `${String(errLine.msg)} (${String((errLine.err as { message?: string } | undefined)?.message ?? '')})`.slice(0, 200) : null;
        if (!/full/i.test(errText)) problems.push(`round ${round}: no error in the hub's log saying the disk is full: ${errText.slice(0, 300)}`);
        const h = await health(hub);
        figures.healthStatus = String(h.status);
        if (h.status === 'ok') problems.push(`round ${round}: /health says ok while the store cannot be written`);
        // The refused press again, same id: still refused, not acknowledged.
        const again = await disp.request('press', refusal.id, { service: 'intake' }, AbortSignal.timeout(20_000), 3000, []);
        if (again?.leaf === 'ticket') problems.push(`round ${round}: a retried press was acknowledged while the disk is still full`);

        // A backup and a report on the full disk: fail with a message, no stack trace.
        const b = await cli(['backup', '--config', config, '--data', dataDir]);
        figures.backupMessage = b.err.trim().split('\n').slice(-1)[0]?.slice(0, 200) ?? '';
        if (b.code === 0 || !/full|space/i.test(b.err) || /\n\s+at /.test(b.err)) {
          backupClean = false;
          problems.push(`round ${round}: qhub backup on a full disk: exit ${b.code}, ${JSON.stringify(b.err.slice(0, 400))}`);
        }
        const day = (acks.at(-1) && readDay(hub)) || '';
        const rep = await cli(['report', '--day', day, '--html', '--out', join(mnt, `report-${round}.html`), '--config', config, '--data', dataDir]);
        figures.reportMessage = rep.err.trim().split('\n').slice(-1)[0]?.slice(0, 200) ?? '';
        if (rep.code === 0 || !/full|space/i.test(rep.err) || /\n\s+at /.test(rep.err)) {
          reportClean = false;
          problems.push(`round ${round}: qhub report on a full disk: exit ${rep.code}, ${JSON.stringify(rep.err.slice(0, 400))}`);
        }

        // Space returns: the same press, retried, gets its ticket; new ones too.
        rmSync(filler);
        const back = await disp.request('press', refusal.id, { service: 'intake' }, AbortSignal.timeout(30_000), 3000, ['storage_failed']);
        if (back?.leaf === 'ticket') {
          recovered++;
          acks.push({ device: 'disp-1', id: refusal.id, kind: 'press', number: (back.body.ticket as { t: string }).t });
        } else problems.push(`round ${round}: after space returned the retried press got ${JSON.stringify(back?.body)}`);
        for (let i = 0; i < 5; i++) {
          const { id, r } = await press(['rate_limited']);
          if (r?.leaf === 'ticket') acks.push({ device: 'disp-1', id, kind: 'press', number: (r.body.ticket as { t: string }).t });
          else problems.push(`round ${round}: a new press after recovery got ${JSON.stringify(r?.body)}`);
        }
        // The store works again: /health's core is ok. The backup that failed while the disk was full keeps the hub
        // "degraded" until a backup succeeds, which the technician's `qhub backup` below is.
        const failing = (h: Record<string, unknown>) => ((h.modules ?? []) as { name: string; ok: boolean }[]).filter((m) => !m.ok).map((m) => m.name);
        const h2 = await health(hub);
        if (failing(h2).includes('core') || !Array.isArray(h2.modules)) problems.push(`round ${round}: /health's core is not ok after recovery: ${JSON.stringify(h2).slice(0, 300)}`);
        figures.healthAfter = `${String(h2.status)} (failing: ${failing(h2).join(', ') || 'none'})`;
        const ok = await cli(['backup', '--config', config, '--data', dataDir, '--out', join(ctx.workDir, `backup-${round}.db`)]);
        if (ok.code !== 0) problems.push(`round ${round}: qhub backup after recovery failed: ${ok.err.slice(0, 300)}`);
        const h3 = await health(hub);
        figures.healthAfterBackup = `${String(h3.status)} (failing: ${failing(h3).join(', ') || 'none'})`;
        if (failing(h3).length) problems.push(`round ${round}: after space returned and a backup succeeded, /health still has failing modules: ${failing(h3).join(', ')}`);
      }
      await hub.stop();
      hub = undefined;
      const c = checkLog(readLog(dataDir), acks);
      problems.push(...c.problems);
      return {
        passed: problems.length === 0,
        problems,
        figures: {
          rounds,
          acked: acks.length,
          ackedWhileFull,
          refusedWhileFull,
          recovered,
          lost: c.lost,
          reused: c.reused,
          gaps: c.gaps,
          clearDeviceError,
          backupClean,
          reportClean,
          ...figures,
        },
        notCovered: ['a disk that fails with EIO (a dying SD card) rather than ENOSPC', 'the log files and journald filling the disk (the hub logs to stdout)'],
      };
    } finally {
      await children.closeAll();
    }
  },
};

/** The business day the hub is in, from its last "ready" or log lines. */
function readDay(hub: RunningHub): string {
  const ready = hub.logs.find((l) => l.msg === 'qhub ready');
  return String(ready?.day ?? new Date().toISOString().slice(0, 10));
}
