/**
 * Backups of the event store with the real daemon: `qhub backup` while
 * devices keep issuing and calling tickets, restored into a fresh data
 * directory and compared event for event; damaged backups refused; restore
 * refused while the hub runs; the scheduled backups rotated, and a failing
 * backup folder shown in /health.
 */
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, connectDevice, exampleSecrets, startHub, testCenter, type RunningHub, type TestDevice } from './helpers/hub.js';

const secrets = exampleSecrets();
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pexec = promisify(execFile);

async function qhub(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await pexec(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, QHUB_DATA: '', QHUB_CONFIG: '' } });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

function events(file: string): unknown[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT seq, at, day, type, ref, body FROM events ORDER BY seq').all();
  } finally {
    db.close();
  }
}

async function health(hub: RunningHub): Promise<Record<string, any>> {
  return (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as Record<string, any>;
}

async function until<T>(f: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('backups of the store', () => {
  const hubs: RunningHub[] = [];
  const devs: TestDevice[] = [];
  afterEach(async () => {
    await Promise.all(devs.splice(0).map((d) => d.close()));
    for (const h of hubs.splice(0)) if (h.proc.exitCode === null) await h.stop();
  });

  it('qhub backup under load, restored into a fresh data directory: the same events, and the hub starts from it', async () => {
    const { dir, config } = testCenter();
    const data = join(dir, 'data');
    const hub = await startHub(config, data);
    hubs.push(hub);
    const disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
    const kps = await Promise.all(['kp-1', 'kp-2'].map((id) => connectDevice(hub.mqttPort, id, secrets[id]!)));
    devs.push(disp, ...kps);
    let loading = true;
    const load = (async () => {
      while (loading) {
        // Under the per-device limit of 20 messages a second.
        await Promise.all([disp.request('press', { service: 'intake' }, 'ticket', 10_000), ...kps.map((k) => k.request('cmd', { cmd: 'next' }, 'screen', 10_000)), pause(70)]);
      }
    })();
    const seq = async () => (await health(hub)).seq as number;
    await until(async () => ((await seq()) >= 40 ? true : undefined), '40 events');

    const out = join(dir, 'manual.db');
    const before = await seq();
    const b = await qhub('backup', '--out', out, '--data', data, '--config', config);
    const after = await seq();
    expect(b.err).toBe('');
    expect(b.code).toBe(0);
    expect(b.out).toMatch(/manual\.db: \d+ events up to #\d+, \d+ KiB, integrity checked/);
    // The running hub took it (it owns the store), and says so.
    expect(b.out).toContain('taken by the running hub');
    await until(async () => (hub.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith(`backup written and checked: ${out}`)) ? true : undefined), 'the hub logs the backup');
    // Commands were committed while the backup ran.
    expect(after).toBeGreaterThan(before);
    await until(async () => ((await seq()) > after + 10 ? true : undefined), 'more events after the backup');
    loading = false;
    await load;
    expect(await hub.stop()).toBe(0);
    expect(existsSync(`${out}.sha256`)).toBe(true);
    // With the hub stopped, the command copies the store file itself, and says so.
    const cold = await qhub('backup', '--out', join(dir, 'cold.db'), '--data', data, '--config', config);
    expect(cold.code, cold.err).toBe(0);
    expect(cold.out).toContain('copied from the store file (no hub answers on its socket)');

    const fresh = join(dir, 'fresh');
    mkdirSync(fresh);
    const r = await qhub('restore', out, '--data', fresh, '--config', config);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const got = events(join(fresh, 'qhub.db')) as { seq: number }[];
    const lastSeq = got.at(-1)!.seq;
    expect(r.out).toContain(`events up to #${lastSeq}`);
    // A consistent snapshot: every event from #1 up to its last, each the same as in the live store, which went on after it.
    expect(lastSeq).toBeGreaterThanOrEqual(before);
    expect(got.map((e) => e.seq)).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
    const live = events(join(data, 'qhub.db')) as { seq: number }[];
    expect(live.length).toBeGreaterThan(got.length);
    expect(got).toEqual(live.slice(0, got.length));

    const again = await startHub(config, fresh);
    hubs.push(again);
    expect(again.logs.find((l) => l.msg === 'qhub ready')).toMatchObject({ seq: lastSeq });
  });

  it('restore refuses a damaged, truncated, foreign or newer-schema file with a clear message and changes nothing; and refuses while the hub runs', async () => {
    const { dir, config } = testCenter();
    const data = join(dir, 'data');
    const hub = await startHub(config, data);
    hubs.push(hub);
    const disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
    devs.push(disp);
    for (let i = 0; i < 20; i++) await Promise.all([disp.request('press', { service: 'intake' }, 'ticket', 10_000), pause(70)]);
    const good = join(dir, 'good.db');
    expect((await qhub('backup', '--out', good, '--data', data, '--config', config)).code).toBe(0);

    const running = await qhub('restore', good, '--data', data, '--config', config);
    expect(running.code).toBe(1);
    expect(running.err).toContain(`the hub is running on ${data} (pid ${hub.proc.pid}): stop it first`);
    expect(await hub.stop()).toBe(0);

    const storeBytes = readFileSync(join(data, 'qhub.db'));
    const variant = (name: string, damage: (f: string) => void, keepSum = false) => {
      const f = join(dir, name);
      copyFileSync(good, f);
      if (keepSum) copyFileSync(`${good}.sha256`, `${f}.sha256`);
      damage(f);
      return f;
    };
    const page = 4096;
    const cases: [string, string, RegExp][] = [
      // The b-tree page headers of pages 2.. overwritten: SQLite's integrity check sees it.
      ['headers', variant('headers.db', (f) => { const b = readFileSync(f); for (let p = 1; p * page < b.length; p++) b.fill(0xff, p * page, p * page + 12); writeFileSync(f, b); }), /is damaged/],
      // One byte of a row changed: only the checksum written beside the backup sees it.
      ['one byte', variant('byte.db', (f) => { const b = readFileSync(f); const i = b.indexOf('intake', page); b[i] = 'X'.charCodeAt(0); writeFileSync(f, b); }, true), /has changed since it was written/],
      ['truncated', variant('short.db', (f) => truncateSync(f, Math.floor(readFileSync(f).length / 2))), /damaged|malformed/],
      ['not a store', variant('text.db', (f) => writeFileSync(f, 'hello, not a database\n'.repeat(300))), /not an SQLite database/],
      ['newer', variant('newer.db', (f) => { const db = new Database(f); db.pragma('user_version = 99'); db.close(); }), /written by a newer qhub \(store version 99/],
    ];
    for (const [what, f, why] of cases) {
      const r = await qhub('restore', f, '--data', data, '--config', config);
      expect(r.code, what).toBe(1);
      expect(r.err, what).toMatch(/^qhub restore: refused: /);
      expect(r.err, what).toMatch(why);
      expect(r.err, what).toContain('Nothing was changed');
    }
    expect(readFileSync(join(data, 'qhub.db')).equals(storeBytes)).toBe(true);
    expect(readdirSync(data).filter((f) => f.includes('before-restore'))).toEqual([]);

    // The good one is taken, and the store it replaced is kept.
    const ok = await qhub('restore', good, '--data', data, '--config', config);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('checksum and integrity checked');
    const kept = readdirSync(data).filter((f) => /^qhub\.db\.before-restore-[\dT:-]+Z$/.test(f));
    expect(kept).toHaveLength(1);
    expect(readFileSync(join(data, kept[0]!)).equals(storeBytes)).toBe(true);
  });

  it('scheduled backups in the daemon: written under load, checked, rotated to `keep`; a broken folder is logged and shown in /health', async () => {
    const { dir, config } = testCenter((doc) => doc.set('backup', doc.createNode({ schedule: '* * * * * *', keep: 2, folder: 'bk' })));
    const data = join(dir, 'data');
    const hub = await startHub(config, data);
    hubs.push(hub);
    const disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
    devs.push(disp);
    let loading = true;
    const load = (async () => {
      // Under the per-device limit of 20 messages a second.
      while (loading) await Promise.all([disp.request('press', { service: 'intake' }, 'ticket', 10_000), pause(70)]);
    })();
    const written = () => hub.logs.filter((l) => l.mod === 'backup' && String(l.msg).startsWith('backup written and checked'));
    await until(() => (written().length >= 3 ? true : undefined), 'three scheduled backups');
    loading = false;
    await load;
    const folder = join(data, 'bk');
    await until(() => (readdirSync(folder).filter((f) => f.endsWith('.db')).length === 2 ? true : undefined), 'rotation to 2');
    const files = readdirSync(folder).sort();
    expect(files.filter((f) => f.endsWith('.db'))).toHaveLength(2);
    expect(files.filter((f) => f.endsWith('.sha256'))).toHaveLength(2);
    expect(files.filter((f) => f.endsWith('.partial'))).toEqual([]);
    // Each one is a self-contained file (no WAL) holding exactly what the log line says.
    for (const l of written().slice(-2)) {
      const f = l.file as string;
      if (!existsSync(f)) continue;
      const ev = events(f) as { seq: number }[];
      expect(ev).toHaveLength(l.events as number);
      expect(ev.at(-1)?.seq ?? 0).toBe(l.seq);
      expect(existsSync(`${f}-wal`)).toBe(false);
    }
    const h = await health(hub);
    const mod = (h.modules as { name: string; ok: boolean; detail: Record<string, any> }[]).find((m) => m.name === 'backup')!;
    expect(mod.ok).toBe(true);
    expect(mod.detail.folder).toBe(folder);
    expect(mod.detail.last.file).toMatch(/bk\/qhub-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.db$/);
    expect(await hub.stop()).toBe(0);

    // A "folder" that is a file: every attempt fails, is logged with what to do, and /health says so.
    const { dir: dir2, config: config2 } = testCenter((doc, d) => {
      writeFileSync(join(d, 'a-file'), 'x');
      doc.set('backup', doc.createNode({ schedule: '* * * * * *', folder: join(d, 'a-file', 'sub') }));
    });
    const bad = await startHub(config2, join(dir2, 'data'));
    hubs.push(bad);
    const fail = await until(() => bad.logs.find((l) => l.mod === 'backup' && String(l.msg).startsWith('backup failed')), 'a failed backup');
    expect(fail.msg).toMatch(/is not a folder: fix backup\.folder/);
    const h2 = await health(bad);
    expect(h2.status).toBe('degraded');
    const m2 = (h2.modules as { name: string; ok: boolean; detail: Record<string, any> }[]).find((m) => m.name === 'backup')!;
    expect(m2.ok).toBe(false);
    expect(m2.detail.lastError.message).toMatch(/not a folder/);
    rmSync(dir2, { recursive: true, force: true });
  });
});
