/**
 * A DFPlayer with no voice pack on the hub: the hub does not know how long
 * a call lasts, so it paces the zone on the module's own end-of-clip
 * reports. Clips here last longer than voice.playedTimeoutMs allows for a
 * call of unknown length: a call its window has moved past while the
 * module was still speaking must not be spoken.
 *
 * The real daemon, the module as an emulator behind a socat pty, keypads
 * and the dispenser as MQTT clients.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dfTrackOf } from '../devices/dfplayer-speaker.js';
import { composeFor } from '../daemon/voice/announcer.js';
import { CLIPS, SOUNDS } from '../contract/voice.js';
import { DfEmulator } from './emulators/dfplayer.js';
import { connectDevice, exampleSecrets, startHub, testCenter, type RunningHub, type TestDevice } from './helpers/hub.js';
import { PtyPair } from './helpers/pty.js';

const until = async (what: string, f: () => boolean | Promise<boolean>, ms = 30_000) => {
  const t0 = Date.now();
  while (!(await f())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe('a DFPlayer with no voice pack on the hub', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qhub-df-nopack-'));
  const pty = new PtyPair(dir, 'dfplayer');
  const secrets = exampleSecrets();
  const CLIP_MS = 600;
  const tracks = new Map<string, number>();
  for (const [lang, ids] of [['ar', Object.keys(CLIPS.ar)], ['en', Object.keys(CLIPS.en)], ['sound', Object.keys(SOUNDS)]] as const)
    for (const id of ids) {
      const f = dfTrackOf({ lang, id })!;
      tracks.set(`${f.folder}/${f.track}`, CLIP_MS);
    }
  let hub: RunningHub;
  let df: DfEmulator;
  const devices: TestDevice[] = [];

  beforeAll(async () => {
    await pty.plug();
    df = await DfEmulator.open({ path: pty.device, tracks });
    const { config } = testCenter((doc) => {
      // No pack: voice.pack points at an empty folder. The default grace (3 s) is far shorter than a call here.
      doc.setIn(['voice'], doc.createNode({ pack: join(dir, 'no-pack'), playedTimeoutMs: 3000 }));
      const list = doc.getIn(['devices']) as { add: (n: unknown) => void };
      list.add(doc.createNode({ id: 'spk-df', kind: 'speaker', model: 'dfplayer-mini', transport: { type: 'serial', path: pty.hub }, bind: { zone: 'hall' } }));
    });
    hub = await startHub(config, join(dir, 'data'));
    await until('spk-df online', async () => {
      const h = (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as { devices: { list: { id: string; online: boolean }[] } };
      return h.devices.list.find((d) => d.id === 'spk-df')?.online === true;
    });
  }, 60_000);

  afterAll(async () => {
    for (const d of devices) await d.close();
    await hub?.stop();
    await df?.close();
    await pty.unplug();
  });

  it('says at start that it paces on the module\'s reports', () => {
    expect(hub.logs.some((l) => l.device === 'spk-df' && typeof l.msg === 'string' && l.msg.includes('reports when it has finished'))).toBe(true);
  });

  it('window 1 calls A001, window 2 calls A002 then A003 while A001 still plays: A002 is not spoken, A003 is, nothing overlaps', async () => {
    const disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
    const kp1 = await connectDevice(hub.mqttPort, 'kp-1', secrets['kp-1']!);
    const kp2 = await connectDevice(hub.mqttPort, 'kp-2', secrets['kp-2']!);
    devices.push(disp, kp1, kp2);
    for (let i = 0; i < 3; i++) await disp.request('press', { service: 'intake' }, 'ticket');
    await kp1.request('cmd', { cmd: 'open' }, 'screen');
    await kp2.request('cmd', { cmd: 'open' }, 'screen');
    const called = async (kp: TestDevice) => (await kp.request('cmd', { cmd: 'next' }, 'screen')).body.t as string;
    const first = await called(kp1);
    const superseded = await called(kp2);
    await until('the first clip of the first call', () => df.timeline.length > 0);
    const started = performance.now();
    // Past the hub's grace for a call of unknown length (3 s): the old pacing had sent the next call by now.
    await until('3.5 s of speaking', () => performance.now() - started > 3500);
    const fullA = composeFor({ t: first, w: 1 }, ['ar', 'en'], { chime: true, short: false, inquiry: 'digits' }).clips.map((c) => dfTrackOf(c)!);
    // Still speaking the first call (between two clips the module is briefly idle: count what has ended).
    expect(df.timeline.filter((c) => c.end !== undefined).length, 'the first call is still being spoken').toBeLessThan(fullA.length);
    const last = await called(kp2);
    expect(new Set([first, superseded, last]).size).toBe(3);

    const fullC = composeFor({ t: last, w: 2 }, ['ar', 'en'], { chime: true, short: false, inquiry: 'digits' }).clips.map((c) => dfTrackOf(c)!);
    await until('both calls spoken to their last clip', () => df.timeline.length >= fullA.length + fullC.length && df.timeline.every((c) => c.end !== undefined), 60_000);
    // Give a wrongly sent third call the time to start: the module stays idle.
    await until('the module idle for a second', () => !df.isPlaying && Date.now() - (df.timeline.at(-1)!.end ?? Date.now()) > 1000);
    expect(df.timeline.map((c) => ({ folder: c.folder, track: c.track }))).toEqual([...fullA, ...fullC]);
    expect(df.interrupted).toBe(0);
    const health = (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as { modules: { name: string; detail: { zones: Record<string, { superseded: number }> } }[] };
    expect(health.modules.find((m) => m.name === 'announcer')!.detail.zones.hall!.superseded).toBe(1);
  }, 120_000);
});
