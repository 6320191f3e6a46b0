/**
 * Reloading the config without a restart (SIGHUP, `qhub reload`), against
 * the real daemon: devices added, removed and re-keyed, a bad file refused,
 * keys that need a restart named; queues and other connections untouched.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseDocument } from 'yaml';
import { CLI, connackCode, connectDevice, exampleSecrets, startHub, testCenter, type RunningHub, type TestDevice } from './helpers/hub.js';

const secrets = exampleSecrets();

describe('reload without a restart', () => {
  let hub: RunningHub;
  let config: string;
  let dataDir: string;
  const devs: Record<string, TestDevice> = {};
  const closed = new Set<string>();
  const edit = (f: (doc: ReturnType<typeof parseDocument>) => void) => {
    const doc = parseDocument(readFileSync(config, 'utf8'));
    f(doc);
    writeFileSync(config, doc.toString());
  };
  const devicesIndex = (doc: ReturnType<typeof parseDocument>, id: string) => (doc.get('devices') as { items: { get(k: string): unknown }[] }).items.findIndex((d) => d.get('id') === id);
  const logsAfter = (n: number) => hub.logs.slice(n);
  const hup = async (): Promise<Record<string, unknown>> => {
    const n = hub.logs.length;
    hub.proc.kill('SIGHUP');
    return vi.waitFor(
      () => {
        const l = logsAfter(n).find((x) => String(x.msg).startsWith('config reloaded') || String(x.msg).startsWith('reload refused'));
        if (!l) throw new Error('no reload line yet');
        return l;
      },
      { timeout: 15_000, interval: 25 },
    );
  };

  beforeAll(async () => {
    const c = testCenter();
    config = c.config;
    dataDir = join(c.dir, 'data');
    hub = await startHub(config, dataDir);
    for (const id of ['disp-1', 'kp-1', 'kp-8', 'board-1', 'speaker-1']) {
      devs[id] = await connectDevice(hub.mqttPort, id, secrets[id]!);
      devs[id].client.on('close', () => closed.add(id));
    }
    for (let i = 0; i < 3; i++) await devs['disp-1']!.request('press', { service: 'intake' }, 'ticket');
    await devs['kp-1']!.request('cmd', { cmd: 'next' }, 'screen');
  });
  afterAll(async () => {
    await Promise.all(Object.values(devs).map((d) => d.close()));
    expect(await hub?.stop()).toBe(0);
  });

  it('SIGHUP with a device added and one removed: the removed one is disconnected, the new one logs in, the others stay connected and the queues are untouched', async () => {
    const before = await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json() as { seq: number };
    edit((doc) => {
      doc.deleteIn(['devices', devicesIndex(doc, 'kp-8')]);
      doc.addIn(['devices'], doc.createNode({ id: 'kp-new', kind: 'keypad', model: 'qhub-keypad', secret: 'kp-new-secret-1', bind: { window: 9 } }));
    });
    const line = await hup();
    expect(line.msg).toMatch(/^config reloaded: devices \+kp-new -kp-8/);
    await vi.waitFor(() => expect(closed.has('kp-8')).toBe(true), { timeout: 10_000 });
    for (const id of ['disp-1', 'kp-1', 'board-1', 'speaker-1']) expect(closed.has(id), `${id} was dropped`).toBe(false);
    expect(await connackCode(hub.mqttPort, 'kp-8', 'kp-8', secrets['kp-8']!)).toBe(5);
    const fresh = await connectDevice(hub.mqttPort, 'kp-new', 'kp-new-secret-1');
    devs['kp-new'] = fresh;
    // The new keypad gets its window's screen, and works.
    await fresh.waitFor('screen', (b) => b.w === 9, 5000);
    const q = await devs['disp-1']!.request('press', { service: 'inquiry' }, 'ticket');
    const s = await fresh.request('cmd', { cmd: 'next' }, 'screen');
    expect(s.body).toMatchObject({ w: 9, t: (q.body.ticket as { t: string }).t });
    // Window 1 still has A001, and the numbering goes on.
    const kp1 = await devs['kp-1']!.request('cmd', { cmd: 'screen' }, 'screen');
    expect(kp1.body).toMatchObject({ t: 'A001', status: 'called' });
    const t = await devs['disp-1']!.request('press', { service: 'intake' }, 'ticket');
    expect((t.body.ticket as { t: string }).t).toBe('A004');
    const after = await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json() as { seq: number };
    expect(after.seq).toBeGreaterThan(before.seq);
  });

  it('a bad file is refused with its FILE:LINE problems and the running config stays', async () => {
    const good = readFileSync(config, 'utf8');
    edit((doc) => doc.setIn(['windows', 0, 'services'], doc.createNode(['no-such-service'])));
    const line = await hup();
    expect(line.msg).toMatch(/^reload refused/);
    const problem = hub.logs.find((l) => l.mod === 'config' && String(l.msg).includes('no-such-service'));
    expect(String(problem?.msg)).toMatch(new RegExp(`${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: windows\\[0\\]\\.services\\[0\\]`));
    writeFileSync(config, good);
    // Still serving, with the config it had.
    const s = await devs['kp-1']!.request('cmd', { cmd: 'done' }, 'screen');
    expect(s.leaf).toBe('screen');
    expect(hub.proc.exitCode).toBeNull();
  });

  it('a new secret makes only that device log in again; a changed port waits for a restart and is named', async () => {
    const n = closed.size;
    edit((doc) => {
      doc.setIn(['devices', devicesIndex(doc, 'board-1'), 'secret'], 'board-1-new-secret');
      doc.setIn(['hub', 'http', 'port'], 1);
    });
    const line = await hup();
    expect(line.msg).toMatch(/new secrets for board-1/);
    expect(line.msg).toMatch(/waiting for a restart: hub\.http/);
    expect(line.waitForRestart).toEqual(['hub.http']);
    await vi.waitFor(() => expect(closed.has('board-1')).toBe(true), { timeout: 10_000 });
    expect(closed.size).toBe(n + 1);
    expect(await connackCode(hub.mqttPort, 'board-1b', 'board-1', secrets['board-1']!)).toBe(5);
    // HTTP still answers on the port it listens on.
    expect((await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).status).toBeLessThan(600);
  });

  it('qhub reload on the command line says what changed; a user added with qhub user add can log in after it', async () => {
    const add = spawnSync(process.execPath, [CLI, 'user', 'add', 'layla', '--role', 'supervisor', '--password-stdin', '--config', config], { input: 'layla-password-1\n', encoding: 'utf8' });
    expect(add.status, add.stderr).toBe(0);
    expect(readFileSync(config, 'utf8')).not.toContain('layla-password-1');
    const before = await fetch(`http://127.0.0.1:${hub.httpPort}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'layla', password: 'layla-password-1' }) });
    expect(before.status).toBe(401);
    const r = spawnSync(process.execPath, [CLI, 'reload', '--config', config, '--data', dataDir], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/reloaded: users \+layla/);
    expect(r.stdout).toMatch(/wait for a restart.*hub\.http/);
    const after = await fetch(`http://127.0.0.1:${hub.httpPort}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'layla', password: 'layla-password-1' }) });
    expect(after.status).toBe(200);
    // A broken file through the command line: exit 1 and the problem, FILE:LINE.
    const good = readFileSync(config, 'utf8');
    writeFileSync(config, good.replace('version: 1', 'version: 7'));
    const bad = spawnSync(process.execPath, [CLI, 'reload', '--config', config, '--data', dataDir], { encoding: 'utf8' });
    writeFileSync(config, good);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/refused \(bad_config\).*:\d+: version/s);
  });
});
