/**
 * Fallbacks on the real daemon, each device killed as a power cut would
 * (its socket destroyed, its will published): a board down and the next call
 * still reaches the speaker and the window display; a speaker down and the
 * boards flash longer; a dispenser down and the one named as its fallback
 * issues its services; a keypad down and the window is worked from the
 * command line. Each one logged "fallback applied" / "fallback removed" and
 * listed in /health and `qhub status`.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadCenter } from '../config/load.js';
import { CLI, connectDevice, exampleSecrets, startHub, testCenter, type RunningHub, type TestDevice } from './helpers/hub.js';

const secrets = exampleSecrets();

describe('fallbacks in the config', () => {
  it('a fallback names another dispenser, on a dispenser only', () => {
    const bad = (edit: Parameters<typeof testCenter>[0]) => {
      try {
        loadCenter(testCenter(edit).config, { QHUB_SUPERVISOR_SECRET: 'x'.repeat(12) });
        return '';
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(bad((doc) => doc.setIn(['devices', 0, 'fallback'], 'kp-1'))).toMatch(/center\.yaml:\d+.*fallback.*"kp-1" is a keypad: name a dispenser/);
    expect(bad((doc) => doc.setIn(['devices', 0, 'fallback'], 'disp-9'))).toMatch(/fallback.*device "disp-9" does not exist/);
    expect(bad((doc) => doc.setIn(['devices', 0, 'fallback'], 'disp-1'))).toMatch(/cannot cover itself/);
    expect(bad((doc) => doc.setIn(['devices', 2, 'fallback'], 'disp-1'))).toMatch(/fallback.*only a dispenser has a fallback/);
    expect(bad((doc) => doc.set('fallbacks', doc.createNode({ speakerDownFlashSeconds: 0 })))).toMatch(/speakerDownFlashSeconds/);
    expect(bad((doc) => doc.setIn(['devices', 0, 'fallback'], 'disp-2'))).toBe('');
  });
});

describe('fallbacks on the running hub', () => {
  let hub: RunningHub;
  let o: { config: string; data: string };
  const devs = new Map<string, TestDevice>();
  const connect = async (id: string) => {
    const d = await connectDevice(hub.mqttPort, id, secrets[id]!);
    devs.set(id, d);
    return d;
  };
  const kill = (id: string) => devs.get(id)!.client.stream.destroy();
  const health = async () => (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as { fallbacks: { active: number; list: { fallback: string; what: string }[] } };
  const logged = (re: RegExp, from = 0) => vi.waitFor(() => expect(hub.logs.slice(from).find((l) => re.test(String(l.msg)))).toBeDefined(), { timeout: 20_000, interval: 100 });
  const qhub = (args: string[]) => spawnSync(process.execPath, [CLI, ...args, '--config', o.config, '--data', o.data], { encoding: 'utf8', env: { ...process.env, QHUB_SOCKET: '' }, timeout: 30_000 });

  beforeAll(async () => {
    const c = testCenter((doc) => {
      doc.set('alerts', doc.createNode({ deviceOfflineSeconds: 1 }));
      doc.set('fallbacks', doc.createNode({ speakerDownFlashSeconds: 45 }));
      doc.setIn(['devices', 0, 'bind', 'services'], doc.createNode(['intake', 'treasury']));
      doc.setIn(['devices', 0, 'fallback'], 'disp-2');
      doc.setIn(['devices', 1, 'bind', 'services'], doc.createNode(['delivery']));
    });
    o = { config: c.config, data: join(c.dir, 'data') };
    hub = await startHub(o.config, o.data);
    for (const id of ['disp-1', 'disp-2', 'kp-1', 'wd-1', 'board-1', 'board-2', 'speaker-1']) await connect(id);
    await vi.waitFor(async () => expect((await health()).fallbacks.list.map((f) => f.fallback)).not.toContain('board:board-1'), { timeout: 15_000 });
    expect((await devs.get('kp-1')!.request('cmd', { cmd: 'open' }, 'screen')).leaf).toBe('screen');
  });
  afterAll(async () => {
    await Promise.all([...devs.values()].map((d) => d.close()));
    await hub?.stop();
  });

  it('a board killed: the next call still reaches the speaker and the window display, and the log says the fallback was applied', async () => {
    const t = await devs.get('disp-1')!.request('press', { service: 'intake' }, 'ticket');
    const number = (t.body.ticket as { t: string }).t;
    const n = hub.logs.length;
    kill('board-1');
    await logged(/^fallback applied: board board-1 down: calls in zone hall go on by voice \(speaker-1\) and on the window displays \(wd-1\)/, n);
    expect((await health()).fallbacks.list.map((f) => f.fallback)).toContain('board:board-1');
    const st = qhub(['status']);
    expect(st.stdout).toMatch(/fallback: board board-1 down since \S+: calls in zone hall go on by voice/);
    const spk = devs.get('speaker-1')!.mark();
    const wd = devs.get('wd-1')!.mark();
    expect((await devs.get('kp-1')!.request('cmd', { cmd: 'next' }, 'screen')).body.t).toBe(number);
    expect(await devs.get('speaker-1')!.waitFor('announce', (b) => b.t === number, 10_000, spk)).toMatchObject({ w: 1 });
    expect(await devs.get('wd-1')!.waitFor('display', (b) => b.t === number, 10_000, wd)).toMatchObject({ w: 1, state: 'called' });
    await connect('board-1');
    await logged(/^fallback removed: board board-1 is back/, n);
    expect((await health()).fallbacks.list.map((f) => f.fallback)).not.toContain('board:board-1');
  });

  it('a speaker killed: the boards of its zone flash a new call longer (fallbacks.speakerDownFlashSeconds), until it is back', async () => {
    const b2 = devs.get('board-2')!;
    expect(b2.latest('display')?.flashSec).toBeUndefined();
    const n = hub.logs.length;
    const since = b2.mark();
    kill('speaker-1');
    await logged(/^fallback applied: speaker speaker-1 down: no speaker online in zone hall: its boards flash a new call 45 s/, n);
    expect(await b2.waitFor('display', (b) => b.flashSec === 45, 10_000, since)).toMatchObject({ zone: 'hall' });
    const back = b2.mark();
    await connect('speaker-1');
    await logged(/^fallback removed: speaker speaker-1 is back/, n);
    expect(await b2.waitFor('display', (b) => b.flashSec === undefined, 10_000, back)).toMatchObject({ zone: 'hall' });
  });

  it('a dispenser killed: the dispenser named as its fallback issues its services while it is down', async () => {
    const d2 = devs.get('disp-2')!;
    expect((await d2.request('press', { service: 'intake' }, 'ticket')).body).toMatchObject({ code: 'not_bound' });
    const n = hub.logs.length;
    kill('disp-1');
    await logged(/^fallback applied: dispenser disp-1 down: disp-2 issues its services \(intake, treasury\)/, n);
    const t = await d2.request('press', { service: 'intake' }, 'ticket');
    expect(t.leaf).toBe('ticket');
    expect(t.body.ticket).toMatchObject({ service: 'intake' });
    // Its buttons after its own: buttons 2 and 3 are disp-1’s services.
    expect(((await d2.request('press', { button: 3 }, 'ticket')).body.ticket as { service: string }).service).toBe('treasury');
    await connect('disp-1');
    await logged(/^fallback removed: dispenser disp-1 is back/, n);
    expect((await d2.request('press', { service: 'intake' }, 'ticket')).body).toMatchObject({ code: 'not_bound' });
  });

  it('a keypad killed: its window is worked from the command line, and the window display follows', async () => {
    await devs.get('disp-1')!.request('press', { service: 'intake' }, 'ticket');
    const n = hub.logs.length;
    kill('kp-1');
    await logged(/^fallback applied: keypad kp-1 down: window 1 is worked from the API: qhub window 1 next/, n);
    const wd = devs.get('wd-1')!.mark();
    const next = qhub(['window', '1', 'next', '--json']);
    expect(next.status, next.stderr).toBe(0);
    const number = (JSON.parse(next.stdout) as { ticket: { number: string } }).ticket.number;
    expect(await devs.get('wd-1')!.waitFor('display', (b) => b.t === number, 10_000, wd)).toMatchObject({ w: 1, state: 'called' });
    expect(qhub(['window', '1', 'done']).status).toBe(0);
    await connect('kp-1');
    await logged(/^fallback removed: keypad kp-1 is back/, n);
  });
});
