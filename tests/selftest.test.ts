/**
 * The morning check against the example center on the real daemon: every
 * device but one connected; boards, window displays and keypads get a test
 * pattern and then their real view back; the speaker gets the chime and
 * answers `played`; a dispenser reports paper out. `qhub selftest` exits 1
 * and names the missing device and the printer's fault; the report is kept
 * in the event log (selftest.done, forwarded) and in the data directory.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadCenter } from '../config/load.js';
import { selftestMinute } from '../daemon/selftest/module.js';
import { CLI, connectDevice, exampleDevices, exampleSecrets, startHub, testCenter, withoutWebDevices, type RunningHub, type TestDevice } from './helpers/hub.js';

const secrets = exampleSecrets();

describe('when the scheduled check runs', () => {
  it('selftest.before opening, by the weekday’s hours; none on a closed day or when not configured', () => {
    const load = (edit: Parameters<typeof testCenter>[0]) => loadCenter(testCenter(edit).config, { QHUB_SUPERVISOR_SECRET: 'x'.repeat(12) }).config;
    const c = load((doc) => {
      doc.setIn(['center', 'hours'], doc.createNode({ sun: ['08:00', '15:00'], fri: 'closed' }));
      doc.set('selftest', doc.createNode({ before: '00:15' }));
    });
    // 2026-11-22 is a Sunday (Cairo, UTC+2).
    expect(selftestMinute(c, Date.parse('2026-11-22T06:00:00+02:00'))).toBe(7 * 60 + 45);
    expect(selftestMinute(c, Date.parse('2026-11-27T06:00:00+02:00'))).toBeUndefined();
    expect(selftestMinute(load(() => undefined), Date.parse('2026-11-22T06:00:00+02:00'))).toBeUndefined();
    expect(() => load((doc) => doc.set('selftest', doc.createNode({ before: '15 min' })))).toThrow(/selftest\.before.*must be HH:MM/s);
  });
});

describe('qhub selftest on the running hub', () => {
  let hub: RunningHub;
  let o: { config: string; data: string };
  const devs = new Map<string, TestDevice>();
  // Not spawnSync: the test's speaker must answer `played` while the command runs.
  const qhub = (args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [CLI, ...args, '--config', o.config, '--data', o.data], { encoding: 'utf8', env: { ...process.env, QHUB_SOCKET: '' }, timeout: 120_000 }, (e, stdout, stderr) =>
        resolve({ status: e ? ((e as { code?: number }).code ?? null) : 0, stdout, stderr }),
      ),
    );
  const ids = exampleDevices().filter((d) => d.transport !== 'web').map((d) => d.id);

  beforeAll(async () => {
    const c = testCenter((doc) => {
      doc.set('selftest', doc.createNode({ answerSeconds: 10, showSeconds: 1 }));
      withoutWebDevices(doc); // the MQTT devices only: a hall page is a browser, tested in web.test.ts
    });
    o = { config: c.config, data: join(c.dir, 'data') };
    hub = await startHub(o.config, o.data);
    // Every device of the example center but one window display.
    for (const id of ids.filter((x) => x !== 'wd-7')) devs.set(id, await connectDevice(hub.mqttPort, id, secrets[id]!));
    const spk = devs.get('speaker-1')!;
    spk.client.on('message', (topic, payload) => {
      if (!topic.endsWith('/announce')) return;
      const a = JSON.parse(payload.toString()) as { id: number; clips: { id: string }[] };
      if (a.clips.some((c) => c.id === 'chime')) void spk.client.publishAsync('qhub/dev/speaker-1/played', JSON.stringify({ v: 1, id: a.id }), { qos: 1 });
    });
    await devs.get('disp-2')!.client.publishAsync('qhub/dev/disp-2/status', JSON.stringify({ v: 1, state: 'online', model: 'qhub-dispenser-5', fw: '1.0.0', faults: ['paper_out'] }), { qos: 1, retain: true });
    await vi.waitFor(async () => {
      const h = (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as { devices: { online: number; list: { id: string; faults?: string[] }[] } };
      expect(h.devices.online).toBe(ids.length - 1);
      expect(h.devices.list.find((d) => d.id === 'disp-2')?.faults).toEqual(['paper_out']);
    }, { timeout: 60_000 });
  }, 240_000);
  afterAll(async () => {
    await Promise.all([...devs.values()].map((d) => d.close()));
    await hub?.stop();
  });

  it('names the device that did not answer and the printer out of paper, exits 1, keeps and forwards the report; the displays get their views back', async () => {
    const board = devs.get('board-1')!;
    const kp = devs.get('kp-3')!;
    const before = board.latest('display');
    const mb = board.mark();
    const mk = kp.mark();
    const r = await qhub(['selftest']);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^wd-7\s+display\s+NO ANSWER\s+offline/m);
    expect(r.stdout).toMatch(/^disp-2\s+dispenser\s+NO ANSWER\s+reports paper_out/m);
    expect(r.stdout).toMatch(/^speaker-1\s+speaker\s+ok\s+played the chime/m);
    expect(r.stdout).toMatch(/^board-1\s+board\s+ok\s/m);
    expect(r.stdout).toMatch(/2 of \d+ did not answer: disp-2, wd-7|2 of \d+ did not answer: wd-7, disp-2/);
    // The test pattern, then the real view again.
    expect(await board.waitFor('display', (b) => b.test === true, 5000, mb)).toMatchObject({ flash: { t: '8888' } });
    const back = await board.waitFor('display', (b) => b.test === undefined, 10_000, mb);
    expect({ ...back, rev: undefined }).toEqual({ ...before, rev: undefined });
    expect(await kp.waitFor('screen', (b) => b.test === true, 5000, mk)).toMatchObject({ t: '8888' });
    await kp.waitFor('screen', (b) => b.test === undefined, 10_000, mk);
    // Kept: in the data directory and in the event log (as the backend receives it).
    const file = join(o.data, /report kept in the data directory: (\S+)/.exec(r.stdout)![1]!);
    expect(existsSync(file)).toBe(true);
    const kept = JSON.parse(readFileSync(file, 'utf8')) as { ok: boolean; missing: { device: string }[] };
    expect(kept.ok).toBe(false);
    expect(kept.missing.map((m) => m.device).sort()).toEqual(['disp-2', 'wd-7']);
    const json = await qhub(['selftest', '--json']);
    expect(json.status).toBe(1);
    expect((JSON.parse(json.stdout) as { missing: { device: string; why: string }[] }).missing.find((m) => m.device === 'wd-7')?.why).toMatch(/^offline/);
    expect(await hub.stop()).toBe(0);
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(join(o.data, 'qhub.db'), { readonly: true });
    const rows = (db.prepare("SELECT body FROM events WHERE type = 'selftest.done' ORDER BY seq").all() as { body: string }[]).map((x) => JSON.parse(x.body) as Record<string, unknown>);
    db.close();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ ok: false, trigger: 'command', devices: ids.length, answered: ids.length - 2, source: 'hub' });
    hub = await startHub(o.config, o.data);
  }, 240_000);
});
