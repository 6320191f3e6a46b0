/**
 * DFPlayer Mini driver: golden frames worked out by hand, the parser and the
 * clip sequencing over serialport's mock binding, then whole announcements
 * over a real pseudo-terminal pair (socat) against an emulated module that
 * counts every clip cut off by a play command sent too early.
 */
import { SerialPortMock } from 'serialport';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PtyPair } from './helpers/pty.js';
import { DfParser, DfPlayer, dfFrame, type DfReport } from '../drivers/dfplayer.js';
import { SerialLine } from '../drivers/serial/line.js';
import type { ByteLink } from '../drivers/serial/types.js';
import { DfEmulator, type EmulatedClip } from './emulators/dfplayer.js';

const hex = (b: Buffer) => b.toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1 ');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Builds a report frame the way the module would (checksum from the driver's frame builder: the golden tests pin that one down). */
const report = (cmd: number, param: number) => dfFrame(cmd, param);

describe('frames, byte for byte', () => {
  it('play folder 1 track 2', () => {
    // Counted bytes: FF + 06 + 0F + 00 + 01 + 02 = 255 + 6 + 15 + 0 + 1 + 2 = 279 = 0x0117.
    // Checksum: 0x10000 − 0x0117 = 0xFEE9 → FE E9.
    expect(hex(dfFrame(0x0f, 0x0102))).toBe('7E FF 06 0F 00 01 02 FE E9 EF');
  });

  it('play folder 1 track 2 asking for an ACK', () => {
    // FB = 1 adds one: 0x0118 → 0x10000 − 0x0118 = 0xFEE8.
    expect(hex(dfFrame(0x0f, 0x0102, true))).toBe('7E FF 06 0F 01 01 02 FE E8 EF');
  });

  it('volume 20', () => {
    // FF + 06 + 06 + 00 + 00 + 14 = 255 + 6 + 6 + 20 = 287 = 0x011F → 0x10000 − 0x011F = 0xFEE1.
    expect(hex(dfFrame(0x06, 20))).toBe('7E FF 06 06 00 00 14 FE E1 EF');
  });

  it('query status', () => {
    // FF + 06 + 42 = 255 + 6 + 66 = 327 = 0x0147 → 0x10000 − 0x0147 = 0xFEB9.
    expect(hex(dfFrame(0x42))).toBe('7E FF 06 42 00 00 00 FE B9 EF');
  });

  it('stop', () => {
    // FF + 06 + 16 = 255 + 6 + 22 = 283 = 0x011B → 0xFEE5.
    expect(hex(dfFrame(0x16))).toBe('7E FF 06 16 00 00 00 FE E5 EF');
  });

  it('a large parameter carries into P1 and the checksum', () => {
    // Play folder 99 (0x63) track 255 (0xFF): FF + 06 + 0F + 00 + 63 + FF = 255 + 6 + 15 + 99 + 255 = 630 = 0x0276 → 0x10000 − 0x0276 = 0xFD8A.
    expect(hex(dfFrame(0x0f, 0x63ff))).toBe('7E FF 06 0F 00 63 FF FD 8A EF');
  });
});

describe('parser', () => {
  // "Track 2 finished": FF + 06 + 3D + 00 + 00 + 02 = 255 + 6 + 61 + 2 = 324 = 0x0144 → 0xFEBC.
  const finished2 = Buffer.from('7EFF063D000002FEBCEF', 'hex');
  // "Error: file not found": FF + 06 + 40 + 00 + 00 + 06 = 255 + 6 + 64 + 6 = 331 = 0x014B → 0xFEB5.
  const notFound = Buffer.from('7EFF0640000006FEB5EF', 'hex');

  function collect(): { got: DfReport[]; parser: DfParser } {
    const got: DfReport[] = [];
    return { got, parser: new DfParser((r) => got.push(r)) };
  }

  it('decodes hand-made report frames', () => {
    const { got, parser } = collect();
    parser.push(Buffer.concat([finished2, notFound]));
    expect(got).toEqual([
      { cmd: 0x3d, param: 2 },
      { cmd: 0x40, param: 6 },
    ]);
    expect(parser.badFrames).toBe(0);
  });

  it('resyncs on the next 0x7E after garbage, stray start bytes and a truncated frame', () => {
    const { got, parser } = collect();
    parser.push(Buffer.from([0x00, 0x13, 0xef, 0x7e, 0x7e, 0xff])); // noise, a lone start byte, then a real frame begins
    parser.push(finished2.subarray(2));
    parser.push(finished2.subarray(0, 6)); // cut off by a replug…
    parser.push(notFound); // …and the next frame arrives whole
    expect(got).toEqual([
      { cmd: 0x3d, param: 2 },
      { cmd: 0x40, param: 6 },
    ]);
    // Rejected: the lone 0x7E, and the truncated frame (its ten bytes reach into the next one, whose 0x7E then starts a fresh frame).
    expect(parser.badFrames).toBe(2);
    expect(parser.skippedBytes).toBeGreaterThanOrEqual(3);
  });

  it('joins a frame split into single bytes', () => {
    const { got, parser } = collect();
    for (const b of finished2) parser.push(Buffer.from([b]));
    expect(got).toEqual([{ cmd: 0x3d, param: 2 }]);
  });

  it('drops a frame with a wrong checksum or end byte and counts it', () => {
    const { got, parser } = collect();
    const badSum = Buffer.from(finished2);
    badSum[8] = 0xbd;
    const badEnd = Buffer.from(finished2);
    badEnd[9] = 0xee;
    parser.push(Buffer.concat([badSum, badEnd, notFound]));
    expect(got).toEqual([{ cmd: 0x40, param: 6 }]);
    expect(parser.badFrames).toBe(2);
  });
});

/** The smallest ByteLink over a serialport stream: what the driver needs and nothing else (no reconnect, no queue). */
function streamLink(port: SerialPortMock): ByteLink {
  const dataFns = new Set<(c: Buffer) => void>();
  const stateFns = new Set<(open: boolean) => void>();
  port.on('data', (c: Buffer) => dataFns.forEach((f) => f(c)));
  port.on('open', () => stateFns.forEach((f) => f(true)));
  port.on('close', () => stateFns.forEach((f) => f(false)));
  return {
    get isOpen() {
      return port.isOpen;
    },
    write: (data) =>
      new Promise<void>((resolve, reject) => {
        if (!port.isOpen) return reject(new Error('port closed'));
        port.write(data, (e) => (e ? reject(e) : port.drain((d) => (d ? reject(d) : resolve()))));
      }),
    onData: (fn) => (dataFns.add(fn), () => void dataFns.delete(fn)),
    onState: (fn) => (stateFns.add(fn), () => void stateFns.delete(fn)),
  };
}

describe('sequencing over the mock binding', () => {
  const PATH = '/dev/ttyDFMOCK';
  let port: SerialPortMock;
  let player: DfPlayer;

  /** The play commands written so far, as "folder/track". */
  const plays = () => {
    const rec = port.port?.recording ?? Buffer.alloc(0);
    const out: string[] = [];
    for (let i = 0; i + 10 <= rec.length; i += 10) if (rec[i + 3] === 0x0f) out.push(`${rec[i + 5]}/${rec[i + 6]}`);
    return out;
  };

  beforeEach(async () => {
    // Through SerialPortMock.binding, not an import of @serialport/binding-mock: under ESM that import is a second copy of the
    // module (serialport requires the CommonJS build), and ports created there are unknown to SerialPortMock.
    const MockBinding = SerialPortMock.binding;
    MockBinding.reset();
    MockBinding.createPort(PATH, { echo: false, record: true });
    port = new SerialPortMock({ path: PATH, baudRate: 9600 });
    await new Promise<void>((r) => port.once('open', () => r()));
    player = new DfPlayer(streamLink(port), { clipTimeoutMs: 2000, settleMs: 20 });
  });

  afterEach(async () => {
    player.close();
    if (port.isOpen) await new Promise<void>((r) => port.close(() => r()));
  });

  it('sends the next clip only after the finished report, and a late duplicate does not end the next clip', async () => {
    const done = player.play([
      { folder: 1, track: 1 },
      { folder: 1, track: 2 },
      { folder: 1, track: 3 },
    ]);
    await until(() => plays().length === 1, 1000, 'first play');
    await sleep(100);
    expect(plays()).toEqual(['1/1']); // still playing: nothing else sent
    port.port!.emitData(report(0x3d, 1));
    await until(() => plays().length === 2, 1000, 'second play');
    // The module's second copy of "track 1 finished", arriving after clip 2 began: taken as clip 2's end, clip 3 would cut clip 2 off.
    port.port!.emitData(report(0x3d, 1));
    await sleep(150);
    expect(plays()).toEqual(['1/1', '1/2']);
    port.port!.emitData(report(0x3d, 2));
    await until(() => plays().length === 3, 1000, 'third play');
    port.port!.emitData(report(0x3d, 3));
    await expect(done).resolves.toMatchObject({ played: 3, timedOut: 0, failed: 0 });
    expect(player.stats().duplicateReports).toBe(1);
  });

  it('ignores a finished report with a broken checksum', async () => {
    const done = player.play([
      { folder: 2, track: 7 },
      { folder: 2, track: 8 },
    ]);
    await until(() => plays().length === 1, 1000, 'first play');
    const corrupt = report(0x3d, 7);
    corrupt[8] = (corrupt[8]! + 1) & 0xff;
    port.port!.emitData(corrupt);
    await sleep(150);
    expect(plays()).toEqual(['2/7']);
    port.port!.emitData(report(0x3d, 7));
    await until(() => plays().length === 2, 1000, 'second play');
    port.port!.emitData(report(0x3d, 8));
    await expect(done).resolves.toMatchObject({ played: 2, failed: 0 });
    expect(player.stats().badFrames).toBe(1);
  });

  it('skips a missing file at once on error 0x40 code 6', async () => {
    const t0 = Date.now();
    const done = player.play([
      { folder: 1, track: 40 },
      { folder: 1, track: 1 },
    ]);
    await until(() => plays().length === 1, 1000, 'first play');
    port.port!.emitData(report(0x40, 0x06));
    await until(() => plays().length === 2, 1000, 'second play');
    port.port!.emitData(report(0x3d, 1));
    const r = await done;
    expect(r).toMatchObject({ played: 1, failed: 1, timedOut: 0 });
    expect(Date.now() - t0).toBeLessThan(1000); // the clip timeout is 2 s
  });

  it('plays queued announcements first come, first served', async () => {
    const a = player.play([{ folder: 3, track: 1 }]);
    const b = player.play([{ folder: 3, track: 2 }]);
    await until(() => plays().length === 1, 1000, 'first play');
    await sleep(100);
    expect(plays()).toEqual(['3/1']);
    port.port!.emitData(report(0x3d, 1));
    await expect(a).resolves.toMatchObject({ played: 1 });
    await until(() => plays().length === 2, 1000, 'second announcement');
    expect(plays()).toEqual(['3/1', '3/2']);
    port.port!.emitData(report(0x3d, 2));
    await expect(b).resolves.toMatchObject({ played: 1 });
  });

  it('fails an announcement cleanly when the line goes away mid-clip, and the next one at once', async () => {
    const gone: string[] = [];
    player.on('gone', (why: string) => gone.push(why));
    const a = player.play([
      { folder: 1, track: 1 },
      { folder: 1, track: 2 },
    ]);
    await until(() => plays().length === 1, 1000, 'first play');
    await new Promise<void>((r) => port.close(() => r()));
    const t0 = Date.now();
    await expect(a).resolves.toMatchObject({ played: 0, failed: 2 });
    await expect(player.play([{ folder: 1, track: 3 }])).resolves.toMatchObject({ played: 0, failed: 1 });
    expect(Date.now() - t0).toBeLessThan(500);
    expect(player.present).toBe(false);
    expect(gone.length).toBe(1);
  });

  it('stop() cuts the clip, drops the queued announcement and sends the stop command', async () => {
    const a = player.play([
      { folder: 1, track: 1 },
      { folder: 1, track: 2 },
    ]);
    const b = player.play([{ folder: 1, track: 3 }]);
    await until(() => plays().length === 1, 1000, 'first play');
    await player.stop();
    await expect(a).resolves.toMatchObject({ played: 0, failed: 2 });
    await expect(b).resolves.toMatchObject({ played: 0, failed: 1 });
    expect(plays()).toEqual(['1/1']);
    expect(hex(port.port!.recording.subarray(10))).toBe('7E FF 06 16 00 00 00 FE E5 EF');
    // Announcements asked for after the stop play normally.
    const c = player.play([{ folder: 1, track: 4 }]);
    await until(() => plays().length === 2, 1000, 'play after stop');
    port.port!.emitData(report(0x3d, 4));
    await expect(c).resolves.toMatchObject({ played: 1 });
  });

  it('writes the volume and refuses one the module does not have', async () => {
    await player.volume(20);
    expect(hex(port.port!.recording)).toBe('7E FF 06 06 00 00 14 FE E1 EF');
    await expect(player.volume(31)).rejects.toThrow(RangeError);
    await expect(player.play([{ folder: 100, track: 1 }])).rejects.toThrow(RangeError);
  });

  it('sends the volume again when the module says it restarted', async () => {
    await player.volume(12);
    port.port!.emitData(report(0x3f, 0x0002));
    await until(() => port.port!.recording.length === 20, 1000, 'volume resent');
    expect(hex(port.port!.recording.subarray(10))).toBe(hex(dfFrame(0x06, 12)));
  });
});

// ---------------------------------------------------------------------------

describe('announcements over a pseudo-terminal with an emulated module', () => {
  const pty = new PtyPair();
  let line: SerialLine;
  let emu: DfEmulator;
  let player: DfPlayer | undefined;
  const tracks = new Map<string, number>([
    ['1/1', 180],
    ['1/2', 150],
    ['1/3', 200],
    ['1/4', 120],
    ['2/1', 160],
    ['2/2', 140],
  ]);

  beforeAll(async () => {
    await pty.plug();
    emu = await DfEmulator.open({ path: pty.device, tracks });
    line = new SerialLine({ path: pty.hub, baudRate: 9600, backoffMs: { min: 50, max: 200 } });
    line.start();
    await until(() => line.isOpen, 5000, 'serial line open');
  });

  afterAll(async () => {
    player?.close();
    await line?.stop();
    await emu?.close();
    await pty.unplug();
  });

  beforeEach(() => {
    emu.clearLog();
    emu.silent = false;
    emu.duplicateGapMs = 30;
  });

  afterEach(async () => {
    player?.close();
    player = undefined;
    // Let a finished report still on its way (a late duplicate included) reach nobody rather than the next test's player.
    await until(() => !emu.isPlaying, 3000, 'emulator idle');
    await sleep(emu.duplicateGapMs + 100);
  });

  const order = (t: EmulatedClip[]) => t.map((c) => `${c.folder}/${c.track}`);

  /** Each clip sounded to its natural end before the next one started. */
  function expectNoOverlap(t: EmulatedClip[]): void {
    expect(emu.interrupted).toBe(0);
    for (let i = 0; i < t.length; i++) {
      const c = t[i]!;
      expect(c.interrupted).toBe(false);
      expect(c.end).toBeDefined();
      expect(c.end! - c.start).toBeGreaterThanOrEqual(tracks.get(`${c.folder}/${c.track}`)! - 5);
      if (i > 0) expect(c.start).toBeGreaterThanOrEqual(t[i - 1]!.end!);
    }
  }

  it('the emulator notices a play command sent over a playing clip (the fault the driver must avoid)', async () => {
    await line.write(dfFrame(0x0f, 0x0101));
    await sleep(40);
    await line.write(dfFrame(0x0f, 0x0102));
    await until(() => !emu.isPlaying, 2000, 'emulator idle');
    expect(emu.interrupted).toBe(1);
    expect(emu.timeline[0]!.interrupted).toBe(true);
  });

  it('plays a 4-clip announcement in order, each clip to its end', async () => {
    player = new DfPlayer(line, { clipTimeoutMs: 3000 });
    const clips = [
      { folder: 1, track: 1 },
      { folder: 1, track: 2 },
      { folder: 1, track: 3 },
      { folder: 1, track: 4 },
    ];
    const r = await player.play(clips);
    expect(r).toMatchObject({ played: 4, timedOut: 0, failed: 0 });
    expect(order(emu.timeline)).toEqual(['1/1', '1/2', '1/3', '1/4']);
    expectNoOverlap(emu.timeline);
    expect(r.ms).toBeGreaterThanOrEqual(180 + 150 + 200 + 120);
  });

  it('two announcements asked for back to back play one after the other, never overlapping', async () => {
    player = new DfPlayer(line, { clipTimeoutMs: 3000 });
    const a = player.play([
      { folder: 1, track: 1 },
      { folder: 1, track: 2 },
      { folder: 1, track: 3 },
    ]);
    const b = player.play([
      { folder: 2, track: 1 },
      { folder: 2, track: 2 },
    ]);
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra).toMatchObject({ played: 3, timedOut: 0, failed: 0 });
    expect(rb).toMatchObject({ played: 2, timedOut: 0, failed: 0 });
    expect(order(emu.timeline)).toEqual(['1/1', '1/2', '1/3', '2/1', '2/2']);
    expectNoOverlap(emu.timeline);
  });

  it('a slow second copy of the finished report does not skip the next clip', async () => {
    // The copy lands well after the driver's settle pause, while the next clip is already playing.
    emu.duplicateGapMs = 120;
    player = new DfPlayer(line, { clipTimeoutMs: 3000, settleMs: 30 });
    const r = await player.play([
      { folder: 1, track: 1 },
      { folder: 1, track: 2 },
      { folder: 1, track: 3 },
    ]);
    expect(r).toMatchObject({ played: 3, timedOut: 0, failed: 0 });
    expect(order(emu.timeline)).toEqual(['1/1', '1/2', '1/3']);
    expectNoOverlap(emu.timeline);
    expect(player.stats().duplicateReports).toBeGreaterThanOrEqual(2);
  });

  it('a lost finished report: the next clip starts after the clip timeout', async () => {
    player = new DfPlayer(line, { clipTimeoutMs: 5000 });
    emu.loseFinished(1);
    const r = await player.play(
      [
        { folder: 1, track: 2 },
        { folder: 1, track: 3 },
      ],
      { clipTimeoutMs: 700 },
    );
    expect(r).toMatchObject({ played: 1, timedOut: 1, failed: 0 });
    expect(order(emu.timeline)).toEqual(['1/2', '1/3']);
    const [first, second] = emu.timeline as [EmulatedClip, EmulatedClip];
    expect(second.start - first.start).toBeGreaterThanOrEqual(690);
    expect(second.start - first.start).toBeLessThan(1200);
    expectNoOverlap(emu.timeline);
  });

  it('a missing file is skipped quickly and the rest is played', async () => {
    player = new DfPlayer(line, { clipTimeoutMs: 5000 });
    const r = await player.play([
      { folder: 1, track: 1 },
      { folder: 1, track: 99 },
      { folder: 1, track: 2 },
    ]);
    expect(r).toMatchObject({ played: 2, timedOut: 0, failed: 1 });
    expect(r.ms).toBeLessThan(1500);
    expect(order(emu.timeline)).toEqual(['1/1', '1/2']);
    expect(emu.received.filter((c) => c.cmd === 0x0f).map((c) => `${c.p1}/${c.p2}`)).toEqual(['1/1', '1/99', '1/2']);
    expectNoOverlap(emu.timeline);
  });

  it('probe: true when the module answers, false (and `gone`) when it is silent', async () => {
    player = new DfPlayer(line);
    const events: string[] = [];
    player.on('present', () => events.push('present'));
    player.on('gone', () => events.push('gone'));
    expect(await player.probe(1000)).toBe(true);
    expect(player.present).toBe(true);
    expect(emu.received.map((c) => c.cmd)).toEqual([0x42]);
    emu.silent = true;
    const t0 = Date.now();
    expect(await player.probe(300)).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(player.present).toBe(false);
    emu.silent = false;
    expect(await player.probe(1000)).toBe(true);
    expect(events).toEqual(['present', 'gone', 'present']);
  });

  it('sets the volume the emulated module understands', async () => {
    player = new DfPlayer(line);
    await player.volume(17);
    await until(() => emu.volume === 17, 1000, 'volume applied');
  });
});
