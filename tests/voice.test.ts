/**
 * Voice calls: the zone queue's order and pacing with a player of known
 * durations, a rendered call measured with sox, a pack with missing clips,
 * and, on the running hub, a keypad's `next` heard by the zone's networked
 * speaker (clips, the rendered file over HTTP, `played` pacing).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeFor, ZoneQueue } from '../daemon/voice/announcer.js';
import { espeakArabic } from '../daemon/voice/espeak.js';
import { generateDemoPack, VoicePack } from '../daemon/voice/pack.js';
import { CLIPS } from '../contract/voice.js';
import { readWav } from '../daemon/voice/wav.js';
import type { Call } from '../daemon/devices/views.js';
import { CLI, connectDevice, exampleSecrets, startHub, testCenter, type RunningHub, type TestDevice } from './helpers/hub.js';

const call = (seq: number, t: string, w: number, recall = false): Call => ({ seq, t, w, zone: 'hall', recall, at: 0 });

describe('one announcement queue per zone', () => {
  it('a burst of calls: spoken in the order made, one at a time, none dropped, only recalls twice, the backlog shortened', async () => {
    const timeline: { seq: number; t: string; short: boolean; start: number; end: number }[] = [];
    let playing = 0;
    let overlaps = 0;
    const q = new ZoneQueue({
      shortenAt: 2,
      // A player of known durations: a full call lasts 60 ms, a short one 30 ms.
      speak: async (c, short) => {
        if (playing++ > 0) overlaps++;
        const start = performance.now();
        await new Promise((r) => setTimeout(r, short ? 30 : 60));
        timeline.push({ seq: c.seq, t: c.t, short, start, end: performance.now() });
        playing--;
      },
    });
    const burst = [call(1, 'A001', 1), call(2, 'A002', 2), call(3, 'B001', 3), call(4, 'A001', 1, true), call(5, 'A003', 4), call(6, 'C001', 5)];
    for (const c of burst) q.push(c);
    await new Promise((r) => setTimeout(r, 100));
    q.push(call(7, 'A004', 2)); // arrives while the backlog is being spoken
    await expect.poll(() => timeline.length, { timeout: 3000 }).toBe(7);
    await new Promise((r) => setTimeout(r, 150));
    q.push(call(8, 'A005', 3)); // the hall is quiet again: the full form
    await expect.poll(() => timeline.length, { timeout: 3000 }).toBe(8);

    expect(timeline.map((x) => x.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(overlaps).toBe(0);
    for (let i = 1; i < timeline.length; i++) expect(timeline[i]!.start).toBeGreaterThanOrEqual(timeline[i - 1]!.end - 1);
    // Announced twice: only the recalled A001.
    const times = new Map<string, number>();
    for (const x of timeline) times.set(x.t, (times.get(x.t) ?? 0) + 1);
    expect([...times].filter(([, n]) => n > 1)).toEqual([['A001', 2]]);
    // The first starts alone (full); with others waiting behind it a call is short; the last of the backlog and a call in a quiet hall are full.
    expect(timeline.map((x) => x.short)).toEqual([false, true, true, true, true, true, false, false]);
    expect(q.shortened).toBe(5);
  });

  it('a call whose window has called another number before its turn is not spoken; a recall of the same number is', async () => {
    const said: string[] = [];
    const q = new ZoneQueue({
      shortenAt: 99,
      speak: async (c) => {
        said.push(`${c.t}@${c.w}${c.recall ? ' recall' : ''}`);
        await new Promise((r) => setTimeout(r, 20));
      },
    });
    q.push(call(1, 'B001', 3)); // speaking while the rest arrive
    q.push(call(2, 'A005', 1));
    q.push(call(3, 'A006', 1)); // window 1 moved on: A005 is no longer expected there
    q.push(call(4, 'A006', 1, true));
    await expect.poll(() => said, { timeout: 2000 }).toEqual(['B001@3', 'A006@1', 'A006@1 recall']);
    expect(q.superseded).toBe(1);
  });

  it('calls overtaken in a burst are counted, and the journal gets one line for them, not one each', async () => {
    const lines: { msg: string; more?: number }[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as { msg: string; more?: number }) });
    const said: string[] = [];
    const q = new ZoneQueue({
      shortenAt: 99,
      log,
      speak: async (c) => {
        said.push(c.t);
        await new Promise((r) => setTimeout(r, 20));
      },
    });
    q.push(call(1, 'B001', 3)); // speaking while window 1 calls twenty numbers in a row
    for (let i = 1; i <= 20; i++) q.push(call(1 + i, `A${String(i).padStart(3, '0')}`, 1));
    await expect.poll(() => said, { timeout: 5000 }).toEqual(['B001', 'A020']);
    expect(q.superseded).toBe(19);
    expect(lines.filter((l) => l.msg.includes('not spoken'))).toHaveLength(1);
  });

  it('a call that cannot be spoken does not silence the ones after it', async () => {
    const said: number[] = [];
    const q = new ZoneQueue({
      shortenAt: 99,
      speak: async (c) => {
        if (c.seq === 2) throw new Error('speaker exploded');
        said.push(c.seq);
      },
    });
    for (const s of [1, 2, 3]) q.push(call(s, `A00${s}`, 1));
    await expect.poll(() => said, { timeout: 1000 }).toEqual([1, 3]);
  });

  it('the short form drops the chime and the long phrases, not the number or the window', () => {
    const full = composeFor({ t: 'A042', w: 3 }, ['ar'], { chime: true, short: false, inquiry: 'digits' });
    const short = composeFor({ t: 'A042', w: 3 }, ['ar'], { chime: true, short: true, inquiry: 'digits' });
    expect(full.clips[0]).toEqual({ lang: 'sound', id: 'chime' });
    expect(short.clips.some((c) => c.id === 'chime')).toBe(false);
    expect(short.clips.length).toBeLessThan(full.clips.length);
    expect(short.text.ar).toBe('رقم إيه اثنان وأربعون شباك ثلاثة');
    // voice.chime: false leaves out the chime only: the full wording stays, and the text says the same as the clips.
    const noChime = composeFor({ t: 'A042', w: 3 }, ['en'], { chime: false, short: false, inquiry: 'digits' });
    expect(noChime.clips.map((c) => c.id)).toEqual(['number', 'letter.A', '40', '2', 'go.to.window', '3']);
    expect(noChime.text.en).toBe('number A forty two please go to window three');
  });
});

describe('a clip pack (espeak-ng demo pack)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qhub-voice-'));
  const pack = join(dir, 'voice');
  const opts = { pauseMs: 60, langPauseMs: 350 };

  beforeAll(async () => {
    await generateDemoPack(pack);
  }, 300_000); // 156 espeak-ng clips: seconds on a quiet machine, minutes beside a heavy load
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('renders a call as one buffer: its length (by sox) is the clips plus the pauses, and no gap is longer than the configured pause', () => {
    const p = VoicePack.load(pack);
    expect(p.problems).toEqual([]);
    const { clips } = composeFor({ t: 'A042', w: 3 }, ['ar', 'en'], { chime: true, short: false, inquiry: 'digits' });
    const r = p.render(clips, opts);
    const file = join(dir, 'a042.wav');
    writeFileSync(file, r.wav);
    // Length: sox's own reading of the file, against the clips' lengths and the pauses between them.
    const soxSeconds = Number(execFileSync('soxi', ['-D', file], { encoding: 'utf8' }).trim());
    const clipsMs = clips.reduce((sum, c) => sum + p.durationOf(c)!, 0);
    const langChanges = clips.filter((c, i) => i > 0 && c.lang !== clips[i - 1]!.lang).length; // chime→ar, ar→en
    const pausesMs = langChanges * opts.langPauseMs + (clips.length - 1 - langChanges) * opts.pauseMs;
    expect(langChanges).toBe(2);
    expect(Math.abs(soxSeconds * 1000 - (clipsMs + pausesMs))).toBeLessThanOrEqual(langChanges + clips.length); // rounding of each clip to whole ms
    expect(Math.abs(soxSeconds * 1000 - r.durationMs)).toBeLessThanOrEqual(1);
    // Gaps: sox splits the file at every silence longer than D. Just above the longest configured pause
    // (plus each clip's kept 10 ms edges) it is one piece; just below it, the chime, the Arabic and the English.
    const pieces = (d: number) => {
      const out = mkdtempSync(join(dir, 'pieces-'));
      execFileSync('sox', [file, join(out, 'p.wav'), 'silence', '1', '0.01', '1%', '1', String(d), '1%', ':', 'newfile', ':', 'restart']);
      return readdirSync(out).filter((f) => Number(execFileSync('soxi', ['-D', join(out, f)], { encoding: 'utf8' })) > 0.05).length;
    };
    expect(pieces((opts.langPauseMs + 50) / 1000)).toBe(1);
    expect(pieces((opts.langPauseMs - 50) / 1000)).toBe(3);
  });

  it('missing and unreadable clips are named one by one; the call still plays what it can', () => {
    const broken = join(dir, 'broken');
    execFileSync('cp', ['-r', pack, broken]);
    unlinkSync(join(broken, 'ar', '3.wav'));
    writeFileSync(join(broken, 'en', 'window.wav'), 'not a wav file');
    const m = JSON.parse(readFileSync(join(broken, 'ar', 'manifest.json'), 'utf8')) as { clips: Record<string, string> };
    delete m.clips['go.to.window'];
    writeFileSync(join(broken, 'ar', 'manifest.json'), JSON.stringify(m));

    const p = VoicePack.load(broken);
    expect(p.problems.map((x) => `${x.lang}/${x.id}: ${x.problem.split(':')[0]}`).sort()).toEqual(['ar/3: file missing', 'ar/go.to.window: not in the manifest', 'en/window: unreadable']);
    const { clips } = composeFor({ t: 'A042', w: 3 }, ['ar'], { chime: true, short: false, inquiry: 'digits' });
    const r = p.render(clips, opts);
    expect(r.missing).toEqual([
      { lang: 'ar', id: 'go.to.window' },
      { lang: 'ar', id: '3' },
    ]);
    expect(r.parts.map((x) => x.clip.id)).toEqual(['chime', 'citizen.number', 'letter.A', '2', 'wa.40']);
    expect(r.durationMs).toBeGreaterThan(1000);

    // `qhub voice check` names them, with the file, and fails; the real pack passes.
    const cfg = testCenter((doc) => doc.setIn(['voice'], doc.createNode({ pack: broken })));
    const run = spawnSync(process.execPath, [CLI, 'voice', 'check', '--config', cfg.config, '--data', dir], { encoding: 'utf8', env: { ...process.env, QHUB_SUPERVISOR_SECRET: 'x-secret-1234' } });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`${join(broken, 'ar', '3.wav')}: ar clip "3": file missing`);
    expect(run.stderr).toContain('en clip "window": unreadable');
    expect(run.stderr).toContain('ar clip "go.to.window": not in the manifest');
    const good = testCenter((doc) => doc.setIn(['voice'], doc.createNode({ pack })));
    const ok = spawnSync(process.execPath, [CLI, 'voice', 'check', '--config', good.config, '--data', dir], { encoding: 'utf8', env: { ...process.env, QHUB_SUPERVISOR_SECRET: 'x-secret-1234' } });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('OK — 156 clips at 22050 Hz');
  });

  it('the hub names a pack\'s missing clips one by one at start, and runs', async () => {
    const broken = join(dir, 'broken-at-start');
    execFileSync('cp', ['-r', pack, broken]);
    unlinkSync(join(broken, 'en', '7.wav'));
    unlinkSync(join(broken, 'ar', 'wa.90.wav'));
    const cfg = testCenter((doc) => doc.setIn(['voice'], doc.createNode({ pack: broken })));
    const hub = await startHub(cfg.config, join(dir, 'data-broken'));
    try {
      const lines = hub.logs.filter((l) => l.mod === 'announcer' && l.level === 40).map((l) => l.msg as string);
      expect(lines).toContain(`${join(broken, 'en', '7.wav')}: en clip "7": file missing`);
      expect(lines).toContain(`${join(broken, 'ar', 'wa.90.wav')}: ar clip "wa.90": file missing`);
      expect(lines).toHaveLength(2);
      const health = (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as { voice: { clips: number; packProblems: number } };
      expect(health.voice).toEqual({ clips: 154, packProblems: 2 });
    } finally {
      await hub.stop();
    }
  });

  it('qhub voice sdcard lays the pack out for a DFPlayer: folder per language, files by inventory number', () => {
    const cfg = testCenter((doc) => doc.setIn(['voice'], doc.createNode({ pack })));
    const card = join(dir, 'sdcard');
    const run = spawnSync(process.execPath, [CLI, 'voice', 'sdcard', card, '--config', cfg.config, '--data', dir], { encoding: 'utf8', env: { ...process.env, QHUB_SUPERVISOR_SECRET: 'x-secret-1234' } });
    expect(run.status).toBe(0);
    expect(readdirSync(card).sort()).toEqual(['01', '02', '03']);
    expect(readdirSync(join(card, '01'))).toHaveLength(94);
    expect(readdirSync(join(card, '02'))).toHaveLength(61);
    // The track the hub asks the module for is the file of that clip: 01/001 is Arabic "0", 03/001 the chime.
    const p = VoicePack.load(pack);
    expect(readWav(readFileSync(join(card, '01', '001.wav'))).samples).toEqual(p.clip({ lang: 'ar', id: '0' })!.samples);
    expect(readWav(readFileSync(join(card, '03', '001.wav'))).samples).toEqual(p.clip({ lang: 'sound', id: 'chime' })!.samples);
  });

  it('the demo pack says Arabic with its vowels (espeak-ng reads plain Arabic without them), and is never written over a pack unasked', async () => {
    for (const id of Object.keys(CLIPS.ar)) expect(espeakArabic(id), id).toBeDefined();
    const phonemes = (text: string) => execFileSync('espeak-ng', ['-v', 'ar', '-q', '-x', text], { encoding: 'utf8' }).trim();
    expect(phonemes(CLIPS.ar['5']!)).toBe("Xmst"); // what a plain clip text would give: no vowels
    expect(phonemes(espeakArabic('5')!)).toBe("X'amsah");
    expect(phonemes(espeakArabic('100')!)).toBe("m'i?ah");
    await expect(generateDemoPack(pack)).rejects.toThrow(/already holds a pack .*--force/);
  });

  it('qhub voice text prints the words of a call on one line', () => {
    const env = { ...process.env, QHUB_SUPERVISOR_SECRET: 'x-secret-1234' };
    const ar = spawnSync(process.execPath, [CLI, 'voice', 'text', 'A042', '--window', '3', '--lang', 'ar'], { encoding: 'utf8', env });
    expect(ar.stdout).toBe('المواطن رقم إيه اثنان وأربعون يرجى التوجه إلى الشباك رقم ثلاثة\n');
    const en = spawnSync(process.execPath, [CLI, 'voice', 'text', 'A042', '--window', '3', '--lang', 'en'], { encoding: 'utf8', env });
    expect(en.stdout).toBe('number A forty two please go to window three\n');
  });
});

describe('voice on the running hub', () => {
  let hub: RunningHub;
  let speaker: TestDevice;
  const devices: TestDevice[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'qhub-voice-hub-'));
  const secrets = exampleSecrets();

  beforeAll(async () => {
    await generateDemoPack(join(dir, 'data', 'voice'));
    // The Pi's own audio out, through ALSA's `file` plugin (no sound card here): aplay writes what it plays to local.wav.
    const local = { device: `file:FILE=${join(dir, 'local.wav')},FORMAT=wav`, zones: ['hall'] };
    const { config } = testCenter((doc) => doc.setIn(['voice'], doc.createNode({ playedTimeoutMs: 1500, local })));
    hub = await startHub(config, join(dir, 'data'));
    speaker = await connectDevice(hub.mqttPort, 'speaker-1', secrets['speaker-1']!);
  }, 300_000);
  afterAll(async () => {
    for (const d of [speaker, ...devices]) await d?.close();
    await hub?.stop();
  });

  it('a keypad next: the zone speaker gets the clips and the file URL, fetches it, and its length is the clips plus pauses', async () => {
    const disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
    const kp = await connectDevice(hub.mqttPort, 'kp-1', secrets['kp-1']!);
    devices.push(disp, kp);
    const t = await disp.request('press', { service: 'intake' }, 'ticket');
    const number = (t.body.ticket as { t: string }).t;
    await kp.request('cmd', { cmd: 'open' }, 'screen');
    const since = speaker.mark();
    await kp.request('cmd', { cmd: 'next' }, 'screen');
    const a = await speaker.waitFor('announce', (b) => b.t === number, 15_000, since);
    if (process.env.VOICE_DEBUG) console.log(JSON.stringify(a));
    expect(a).toMatchObject({ t: number, w: 1, zone: 'hall', recall: false, short: false, lang: ['ar', 'en'] });
    const clips = a.clips as { lang: string; id: string }[];
    expect(clips[0]).toEqual({ lang: 'sound', id: 'chime' });
    expect(clips.map((c) => c.id)).toContain('go.to.window');
    expect(a.url).toBe(`http://127.0.0.1:${hub.httpPort}${a.path as string}`);
    const res = await fetch(a.url as string);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/wav');
    const wav = Buffer.from(await res.arrayBuffer());
    const pcm = readWav(wav);
    const ms = (pcm.samples.length * 1000) / pcm.rate;
    expect(Math.abs(ms - (a.durationMs as number))).toBeLessThanOrEqual(1);
    // The same length from the pack's clips and the configured pauses (60 ms between words, 350 ms at a language change).
    const p = VoicePack.load(join(dir, 'data', 'voice'));
    const changes = clips.filter((c, i) => i > 0 && c.lang !== clips[i - 1]!.lang).length;
    const expected = clips.reduce((s, c) => s + p.durationOf(c as never)!, 0) + changes * 350 + (clips.length - 1 - changes) * 60;
    expect(Math.abs(ms - expected)).toBeLessThanOrEqual(clips.length + changes);
    // Checked with sox as well.
    const file = join(dir, 'fetched.wav');
    writeFileSync(file, wav);
    expect(Math.abs(Number(execFileSync('soxi', ['-D', file], { encoding: 'utf8' })) * 1000 - ms)).toBeLessThanOrEqual(1);
    // The same buffer went to the Pi's audio out, whole: aplay played it through ALSA (padded to its last period).
    const played = join(dir, 'local.wav');
    await expect.poll(() => { try { return readWav(readFileSync(played)).samples.length; } catch { return 0; } }, { timeout: 15_000 }).toBeGreaterThanOrEqual(pcm.samples.length);
    const out = readWav(readFileSync(played));
    expect(Buffer.from(out.samples.buffer, out.samples.byteOffset, pcm.samples.length * 2).equals(Buffer.from(pcm.samples.buffer, pcm.samples.byteOffset, pcm.samples.length * 2))).toBe(true);
    expect(out.samples.length - pcm.samples.length).toBeLessThan(pcm.rate / 5);
    await speaker.client.publishAsync('qhub/dev/speaker-1/played', JSON.stringify({ v: 1, id: a.id }), { qos: 1 });
  });

  it('calls wait for the speaker: the next announce comes after played (or the timeout), in the order called, recalls repeated', async () => {
    const disp = devices[0]!;
    const kps = await Promise.all([2, 3, 4].map((n) => connectDevice(hub.mqttPort, `kp-${n}`, secrets[`kp-${n}`]!)));
    const board = await connectDevice(hub.mqttPort, 'board-1', secrets['board-1']!);
    devices.push(...kps, board);
    for (let i = 0; i < 3; i++) await disp.request('press', { service: 'intake' }, 'ticket');
    for (const k of kps) await k.request('cmd', { cmd: 'open' }, 'screen');
    const since = speaker.mark();
    // Three calls at once, then a recall.
    const called: string[] = [];
    for (const k of kps) called.push(((await k.request('cmd', { cmd: 'next' }, 'screen')).body as { t: string }).t);
    await kps[0]!.request('cmd', { cmd: 'recall' }, 'screen');
    type Announce = { id: number; t: string; recall: boolean; short: boolean; durationMs: number; at: number };
    const announces = (): Announce[] => speaker.messages.slice(since).filter((m) => m.topic.endsWith('/announce')).map((m) => ({ ...(m.body as Omit<Announce, 'at'>), at: m.at }));
    await expect.poll(() => announces().length, { timeout: 15_000 }).toBe(1);
    // Nothing more while the first is playing.
    await new Promise((r) => setTimeout(r, 300));
    expect(announces()).toHaveLength(1);
    const first = announces()[0]!;
    await speaker.client.publishAsync('qhub/dev/speaker-1/played', JSON.stringify({ v: 1, id: first.id }), { qos: 1 });
    await expect.poll(() => announces().length, { timeout: 15_000 }).toBe(2);
    // The speaker now stays silent about played: the hub moves on after the call's length plus the grace (1.5 s).
    const second = announces()[1]!;
    await expect.poll(() => announces().length, { timeout: (second.durationMs as number) + 15_000 }).toBe(3);
    const third = announces()[2]!;
    // The hub waited the call's length plus the 1.5 s grace before it moved on. The times are when this test
    // received each announce: the second can reach it late on a loaded machine, so the margin is 500 ms, not 100.
    expect(third.at - second.at).toBeGreaterThanOrEqual((second.durationMs as number) + 1000);
    await speaker.client.publishAsync('qhub/dev/speaker-1/played', JSON.stringify({ v: 1, id: third.id }), { qos: 1 });
    await expect.poll(() => announces().length, { timeout: 15_000 }).toBe(4);
    const list = announces();
    expect(list.map((x) => x.t)).toEqual([...called, called[0]]);
    expect(list.map((x) => x.recall)).toEqual([false, false, false, true]);
    // The first started alone (full); the next two had calls waiting behind them (short); the recall came last (full).
    expect(list.map((x) => x.short)).toEqual([false, true, true, false]);
    // The board was not held back by the voice: it flashed the recall (the last call) before the second call was even spoken.
    const flashed = board.messages.find((m) => m.topic.endsWith('/display') && (m.body.flash as { seq?: number } | null)?.seq === list[3]!.id);
    expect(flashed).toBeDefined();
    expect(flashed!.at).toBeLessThan(list[1]!.at);
  }, 120_000);
});

describe('aplay missing (alsa-utils not installed)', () => {
  // A PATH that holds no aplay: the daemon and the CLI are started by absolute path.
  const noAplay = { PATH: mkdtempSync(join(tmpdir(), 'qhub-empty-path-')), QHUB_SUPERVISOR_SECRET: 'x-secret-1234' };

  it('qhub voice play names the package to install and exits 1', () => {
    const { config, dir } = testCenter();
    const run = spawnSync(process.execPath, [CLI, 'voice', 'play', 'A042', '--window', '3', '--config', config, '--data', join(dir, 'data')], { encoding: 'utf8', env: { ...process.env, ...noAplay } });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('aplay not found: install alsa-utils (apt-get install alsa-utils)');
    expect(run.stderr).toContain('--out call.wav');
  });

  it('the hub with voice.local says at start what to install, and /health shows it', async () => {
    const { config, dir } = testCenter((doc) => doc.setIn(['voice'], doc.createNode({ local: { device: 'default', zones: ['hall'] } })));
    const hub = await startHub(config, join(dir, 'data'), noAplay);
    try {
      const line = hub.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('aplay not found: install alsa-utils (apt-get install alsa-utils)'));
      expect(line, JSON.stringify(hub.logs.map((l) => l.msg))).toBeDefined();
      expect(line!.level).toBe(50);
      const health = (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as { status: string; voice: { localOutput?: string } };
      expect(health.status).toBe('degraded');
      expect(health.voice.localOutput).toBe('aplay not found: install alsa-utils (apt-get install alsa-utils)');
    } finally {
      await hub.stop();
    }
  }, 60_000);
});
