/**
 * A DFPlayer Mini on the far end of a pseudo-terminal, written from the
 * module's documented behaviour and deliberately sharing no code with
 * drivers/dfplayer.ts: if the driver's frames or checksums were wrong, this
 * side would not understand them, and the tests would see it.
 *
 * What it imitates, including the awkward parts a driver must cope with:
 * - a play command (0x0F) while a clip plays cuts that clip off (counted
 *   in `interrupted`: the tests assert the driver never causes it);
 * - the "finished" report (0x3D) comes twice per clip, `duplicateGapMs` apart;
 * - a missing file earns error 0x40 with code 6;
 * - `loseFinished(n)` swallows both copies of the next n finished reports,
 *   as a noisy line would, so the driver's timeout path can be exercised;
 * - `silent` plays dead (no answers at all).
 */
import { SerialPort } from 'serialport';

export interface EmulatedClip {
  folder: number;
  track: number;
  start: number;
  /** When it stopped sounding: its natural end, or the moment it was cut off. Unset while playing. */
  end?: number;
  interrupted: boolean;
}

export interface DfEmulatorOptions {
  path: string;
  /** "folder/track" (numbers, e.g. "1/2") → clip duration in ms. */
  tracks: Map<string, number>;
  /** Send "initialisation done" (0x3F) right after opening, as a module does after power-up. */
  announceOnOpen?: boolean;
  /** Gap between the two copies of a finished report; default 30 ms like the real module. */
  duplicateGapMs?: number;
}

/** Frame layout: 7E FF 06 CMD FB P1 P2 CK_hi CK_lo EF. */
function frame(cmd: number, p1: number, p2: number, feedback = 0): Buffer {
  const body = [0xff, 0x06, cmd, feedback, p1, p2];
  const total = body.reduce((a, b) => a + b, 0);
  // Two's complement of the 16-bit sum: (~sum + 1), kept to 16 bits.
  const ck = (~total + 1) & 0xffff;
  return Buffer.from([0x7e, ...body, ck >> 8, ck & 0xff, 0xef]);
}

export class DfEmulator {
  readonly tracks: Map<string, number>;
  /** Every clip started, in order. */
  readonly timeline: EmulatedClip[] = [];
  /** Commands understood: cmd, P1, P2, feedback flag. */
  readonly received: { cmd: number; p1: number; p2: number; fb: number; at: number }[] = [];
  /** Clips cut off by a play command sent while they were playing. */
  interrupted = 0;
  /** Frames with a bad checksum or shape (answered with error 4 when the shape was right). */
  badFrames = 0;
  volume = 25;
  silent = false;
  duplicateGapMs: number;
  private lose = 0;
  private playing?: { rec: EmulatedClip; timer: NodeJS.Timeout };
  private readonly timers = new Set<NodeJS.Timeout>();
  private rx: number[] = [];

  private constructor(
    private readonly port: SerialPort,
    opts: DfEmulatorOptions,
  ) {
    this.tracks = opts.tracks;
    this.duplicateGapMs = opts.duplicateGapMs ?? 30;
    port.on('data', (chunk: Buffer) => this.onBytes(chunk));
  }

  static async open(opts: DfEmulatorOptions): Promise<DfEmulator> {
    const port = new SerialPort({ path: opts.path, baudRate: 9600, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    const emu = new DfEmulator(port, opts);
    if (opts.announceOnOpen) emu.send(0x3f, 0x00, 0x02); // 0x02: SD card online
    return emu;
  }

  /** The next `n` clips end without their finished reports (both copies lost). */
  loseFinished(n: number): void {
    this.lose += n;
  }

  /** Forgets the history between test cases, and reports still due (a late duplicate must not reach the next case's driver). */
  clearLog(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.timeline.length = 0;
    this.received.length = 0;
    this.interrupted = 0;
    this.badFrames = 0;
    this.lose = 0;
  }

  get isPlaying(): boolean {
    return this.playing !== undefined;
  }

  /** Sends raw bytes as if the module had (noise, a handmade report). */
  inject(bytes: Buffer): void {
    this.port.write(bytes);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    if (this.playing) clearTimeout(this.playing.timer);
    if (this.port.isOpen) await new Promise<void>((r) => this.port.close(() => r()));
  }

  // ------------------------------------------------------------------

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private send(cmd: number, p1: number, p2: number): void {
    if (this.silent || !this.port.isOpen) return;
    this.port.write(frame(cmd, p1, p2));
  }

  private onBytes(chunk: Buffer): void {
    for (const b of chunk) this.rx.push(b);
    while (this.rx.length > 0) {
      if (this.rx[0] !== 0x7e) {
        this.rx.shift();
        continue;
      }
      if (this.rx.length < 10) return;
      const f = this.rx.slice(0, 10);
      const [, ver, len, cmd, fb, p1, p2, ckh, ckl, end] = f as [number, number, number, number, number, number, number, number, number, number];
      if (ver !== 0xff || len !== 0x06 || end !== 0xef) {
        this.badFrames++;
        this.rx.shift();
        continue;
      }
      const expected = frame(cmd, p1, p2, fb);
      if (expected[7] !== ckh || expected[8] !== ckl) {
        this.badFrames++;
        this.rx.splice(0, 10);
        this.send(0x40, 0x00, 0x04); // checksum error
        continue;
      }
      this.rx.splice(0, 10);
      if (this.silent) continue;
      this.received.push({ cmd, p1, p2, fb, at: Date.now() });
      if (fb) this.send(0x41, 0x00, 0x00);
      this.execute(cmd, p1, p2);
    }
  }

  private stopPlaying(interrupted: boolean): void {
    const p = this.playing;
    if (!p) return;
    clearTimeout(p.timer);
    p.rec.end = Date.now();
    p.rec.interrupted = interrupted;
    this.playing = undefined;
  }

  private execute(cmd: number, p1: number, p2: number): void {
    switch (cmd) {
      case 0x0f: {
        if (this.playing) {
          this.interrupted++;
          this.stopPlaying(true);
        }
        const duration = this.tracks.get(`${p1}/${p2}`);
        if (duration === undefined) {
          this.later(15, () => this.send(0x40, 0x00, 0x06)); // file not found
          return;
        }
        const rec: EmulatedClip = { folder: p1, track: p2, start: Date.now(), interrupted: false };
        this.timeline.push(rec);
        const timer = setTimeout(() => {
          this.stopPlaying(false);
          if (this.lose > 0) {
            this.lose--;
            return;
          }
          // The real module reports the end twice; the number is the track (P2 here, as the folder play addressed it).
          this.send(0x3d, 0x00, p2);
          this.later(this.duplicateGapMs, () => this.send(0x3d, 0x00, p2));
        }, duration);
        this.playing = { rec, timer };
        return;
      }
      case 0x06:
        this.volume = Math.min(30, p2);
        return;
      case 0x16:
        this.stopPlaying(false);
        return;
      case 0x0c:
        this.stopPlaying(false);
        this.later(200, () => this.send(0x3f, 0x00, 0x02));
        return;
      case 0x42:
        // P1: 0x02 = SD card; P2: 0 stopped, 1 playing.
        this.send(0x42, 0x02, this.playing ? 0x01 : 0x00);
        return;
      case 0x48:
        this.send(0x48, 0x00, Math.min(255, this.tracks.size));
        return;
      default:
        return;
    }
  }
}
