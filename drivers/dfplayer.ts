/**
 * DFPlayer Mini (serial MP3 voice module) driver: plays announcements made
 * of clips from the SD card (`01/001.mp3` …), one clip after another.
 *
 * Wire format, 9600 8N1, 10-byte frames:
 *   7E FF 06 CMD FB P1 P2 CHK_H CHK_L EF
 * FB = 1 asks the module for an ACK (0x41); CHK = 0 − (FF+06+CMD+FB+P1+P2),
 * 16 bits, high byte first.
 *
 * Why the sequencing is careful: the module has no queue. A play command
 * sent while a clip is playing cuts that clip off, so the next clip may only
 * be sent once the module reported the previous one finished (0x3D), said
 * it cannot play it (0x40), or the clip's time ran out. Real modules send
 * the "finished" report twice; taken naively, the copy would end the *next*
 * clip the moment it started, and the clip after it would cut it off.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { ByteLink } from './serial/types.js';

/** Commands the hub sends. */
export const DF_CMD = {
  volume: 0x06,
  reset: 0x0c,
  playFolder: 0x0f,
  stop: 0x16,
  queryStatus: 0x42,
  querySdFiles: 0x48,
} as const;

/** Reports the module sends on its own or in answer. */
export const DF_REPORT = {
  cardInserted: 0x3a,
  cardRemoved: 0x3b,
  finishedUsb: 0x3c,
  finishedSd: 0x3d,
  finishedFlash: 0x3e,
  initDone: 0x3f,
  error: 0x40,
  ack: 0x41,
  status: 0x42,
  sdFiles: 0x48,
} as const;

/** Codes of the 0x40 error report (P2). */
export const DF_ERROR = {
  busy: 0x01,
  sleeping: 0x02,
  serialError: 0x03,
  checksum: 0x04,
  outOfRange: 0x05,
  fileNotFound: 0x06,
  insertionError: 0x07,
  sdReadFailed: 0x08,
  enteredSleep: 0x0a,
} as const;

const START = 0x7e;
const VERSION = 0xff;
const LENGTH = 0x06;
const END = 0xef;
const FRAME_LEN = 10;

/** The checksum of a frame's six counted bytes (version … P2): 0 − their sum, kept to 16 bits. */
export function dfChecksum(bytes: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum += bytes[i]!;
  return (0x10000 - (sum & 0xffff)) & 0xffff;
}

/** One command frame. `param` is 16 bits: P1 is its high byte, P2 its low byte. */
export function dfFrame(cmd: number, param = 0, ack = false): Buffer {
  if (!Number.isInteger(cmd) || cmd < 0 || cmd > 0xff) throw new RangeError(`DFPlayer command must be a byte, got ${cmd}`);
  if (!Number.isInteger(param) || param < 0 || param > 0xffff) throw new RangeError(`DFPlayer parameter must be 0..65535, got ${param}`);
  const f = Buffer.alloc(FRAME_LEN);
  f[0] = START;
  f[1] = VERSION;
  f[2] = LENGTH;
  f[3] = cmd;
  f[4] = ack ? 1 : 0;
  f.writeUInt16BE(param, 5);
  f.writeUInt16BE(dfChecksum(f.subarray(1, 7)), 7);
  f[9] = END;
  return f;
}

export interface DfReport {
  cmd: number;
  /** P1 << 8 | P2. */
  param: number;
}

/**
 * Cuts a byte stream into reports. Serial lines deliver frames in arbitrary
 * pieces and, after a replug or line noise, with junk in between: the parser
 * keeps partial frames across chunks, skips to the next 0x7E, and drops a
 * frame whose header, end byte or checksum is wrong (counted in `badFrames`,
 * never thrown: one bad byte must not stop the announcements).
 */
export class DfParser {
  /** Frames that started with 0x7E but were not valid. */
  badFrames = 0;
  /** Bytes outside any frame (noise before a 0x7E). */
  skippedBytes = 0;
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly onReport: (r: DfReport) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    for (;;) {
      const start = this.buf.indexOf(START);
      if (start < 0) {
        this.skippedBytes += this.buf.length;
        this.buf = Buffer.alloc(0);
        return;
      }
      if (start > 0) {
        this.skippedBytes += start;
        this.buf = this.buf.subarray(start);
      }
      // Reject a wrong header as soon as it is visible, so a stray 0x7E does not hold up the real frame behind it until 10 bytes have arrived.
      const badHeader = (this.buf.length > 1 && this.buf[1] !== VERSION) || (this.buf.length > 2 && this.buf[2] !== LENGTH);
      if (!badHeader && this.buf.length < FRAME_LEN) return;
      if (badHeader || this.buf[9] !== END || this.buf.readUInt16BE(7) !== dfChecksum(this.buf.subarray(1, 7))) {
        // Only the 0x7E is consumed: the next frame may begin inside the rejected ten bytes.
        this.badFrames++;
        this.buf = this.buf.subarray(1);
        continue;
      }
      const report = { cmd: this.buf[3]!, param: this.buf.readUInt16BE(5) };
      this.buf = this.buf.subarray(FRAME_LEN);
      this.onReport(report);
    }
  }
}

export interface DfClip {
  /** SD card folder 1..99 (`01` … `99`). */
  folder: number;
  /** File 1..255 in that folder (`001.mp3` …). */
  track: number;
}

export interface DfPlayResult {
  /** Clips the module reported finished. */
  played: number;
  /** Clips that ran out of time without a report (the next one was started anyway). */
  timedOut: number;
  /** Clips not played: missing file or other module error, line away, module restarted, or `stop()`. */
  failed: number;
  /** From the first clip's start to the last clip's end (time waiting behind earlier announcements not included). */
  ms: number;
}

export interface DfPlayerOptions {
  /** Longest a clip may take before the next one is started anyway; default 10 s. Must exceed the longest clip. */
  clipTimeoutMs?: number;
  /**
   * Quiet time after a clip ended before the next play command. The second
   * copy of a "finished" report arrives in this gap, and modules are known
   * to ignore a command sent right on the heels of a report. Default 100 ms.
   */
  settleMs?: number;
  /** A "finished" report repeating the previous one's number within this time is the module's duplicate. Default 400 ms. */
  duplicateWindowMs?: number;
  log?: Logger;
}

type Outcome = 'played' | 'timedOut' | 'failed';

interface ActiveClip {
  clip: DfClip;
  end: (outcome: Outcome, why: string) => void;
}

export interface DfPlayerStats {
  present: boolean | undefined;
  announcements: number;
  played: number;
  timedOut: number;
  failed: number;
  duplicateReports: number;
  deviceErrors: number;
  badFrames: number;
}

/**
 * Events: `present` (the module talks after being silent or unknown),
 * `gone` (line closed or a probe went unanswered, after being present or unknown), `report` (every valid
 * frame, for diagnostics), `deviceError` (error code of a 0x40 report).
 */
export class DfPlayer extends EventEmitter {
  private readonly parser: DfParser;
  private readonly unsubs: (() => void)[] = [];
  private readonly clipTimeoutMs: number;
  private readonly settleMs: number;
  private readonly duplicateWindowMs: number;
  private readonly log?: Logger;
  /** Announcements run one after another on this chain. */
  private tail: Promise<unknown> = Promise.resolve();
  private active?: ActiveClip;
  private quietUntil = 0;
  private lastFinish?: { cmd: number; param: number; at: number };
  /** Answers the next valid frame (a probe waiting for any sign of life). */
  private readonly frameWaiters = new Set<(r: DfReport) => void>();
  /** Bumped by `stop()`: announcements asked for before it are dropped. */
  private epoch = 0;
  private wantedVolume?: number;
  private closed = false;
  private isPresent: boolean | undefined;
  private readonly counts = { announcements: 0, played: 0, timedOut: 0, failed: 0, duplicateReports: 0, deviceErrors: 0 };

  constructor(
    private readonly link: ByteLink,
    opts: DfPlayerOptions = {},
  ) {
    super();
    this.clipTimeoutMs = opts.clipTimeoutMs ?? 10_000;
    this.settleMs = opts.settleMs ?? 100;
    this.duplicateWindowMs = opts.duplicateWindowMs ?? 400;
    this.log = opts.log;
    this.parser = new DfParser((r) => this.onReport(r));
    this.unsubs.push(link.onData((chunk) => this.parser.push(chunk)));
    this.unsubs.push(link.onState((open) => this.onLineState(open)));
  }

  /** True once the module answered, false after it went away or stayed silent, undefined before anything is known. */
  get present(): boolean | undefined {
    return this.isPresent;
  }

  stats(): DfPlayerStats {
    return { present: this.isPresent, badFrames: this.parser.badFrames, ...this.counts };
  }

  /**
   * Plays the clips in order, each after the previous one ended. Calls are
   * queued: a second announcement starts after the first one's last clip.
   * Never rejects for device trouble (that is counted in the result); rejects
   * only for a clip number the module cannot address.
   */
  play(clips: readonly DfClip[], opts: { clipTimeoutMs?: number } = {}): Promise<DfPlayResult> {
    for (const c of clips) {
      if (!Number.isInteger(c.folder) || c.folder < 1 || c.folder > 99) return Promise.reject(new RangeError(`DFPlayer folder must be 1..99, got ${c.folder}`));
      if (!Number.isInteger(c.track) || c.track < 1 || c.track > 255) return Promise.reject(new RangeError(`DFPlayer track must be 1..255, got ${c.track}`));
    }
    const list = clips.map((c) => ({ folder: c.folder, track: c.track }));
    const timeoutMs = opts.clipTimeoutMs ?? this.clipTimeoutMs;
    const epoch = this.epoch;
    const run = this.tail.then(() => this.announce(list, timeoutMs, epoch));
    this.tail = run;
    return run;
  }

  /**
   * Sets the volume (0..30). Remembered and sent again after the module
   * restarts (it forgets its volume on reset and power-up). While the line is
   * away only the newest volume waits to be sent.
   */
  volume(level: number): Promise<void> {
    if (!Number.isInteger(level) || level < 0 || level > 30) return Promise.reject(new RangeError(`DFPlayer volume must be 0..30, got ${level}`));
    this.wantedVolume = level;
    return this.link.write(dfFrame(DF_CMD.volume, level), { key: 'dfplayer-volume' });
  }

  /** Cuts the current clip and drops every announcement asked for so far (their remaining clips count as failed). */
  async stop(): Promise<void> {
    this.epoch++;
    this.active?.end('failed', 'stopped');
    if (this.link.isOpen) await this.link.write(dfFrame(DF_CMD.stop));
  }

  /**
   * Restarts the module; it announces itself again with 0x3F after a second
   * or two. Like `stop()`, drops the announcements asked for so far: clips
   * sent to a module that is still booting would only earn "busy" errors.
   */
  async reset(): Promise<void> {
    this.epoch++;
    this.active?.end('failed', 'reset');
    await this.link.write(dfFrame(DF_CMD.reset));
  }

  /**
   * Asks the module for its status; true when any valid frame comes back
   * within `timeoutMs` (a busy module answering with an error is there too).
   * Updates `present` and emits `present`/`gone` on a change.
   */
  probe(timeoutMs = 1000): Promise<boolean> {
    if (this.closed || !this.link.isOpen) {
      this.setPresent(false, 'line closed');
      return Promise.resolve(false);
    }
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.frameWaiters.delete(heard);
        if (!ok) this.setPresent(false, 'no answer to a status query');
        resolve(ok);
      };
      const heard = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.frameWaiters.add(heard);
      this.link.write(dfFrame(DF_CMD.queryStatus)).catch(() => done(false));
    });
  }

  /** Detaches from the line; the clip playing and every queued clip end as failed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const u of this.unsubs.splice(0)) u();
    this.active?.end('failed', 'driver closed');
  }

  // ------------------------------------------------------------------

  private async announce(clips: DfClip[], timeoutMs: number, epoch: number): Promise<DfPlayResult> {
    this.counts.announcements++;
    const result: DfPlayResult = { played: 0, timedOut: 0, failed: 0, ms: 0 };
    const t0 = Date.now();
    for (const clip of clips) {
      const outcome = epoch !== this.epoch ? 'failed' : await this.playOne(clip, timeoutMs);
      result[outcome]++;
      this.counts[outcome]++;
    }
    result.ms = Date.now() - t0;
    return result;
  }

  private async playOne(clip: DfClip, timeoutMs: number): Promise<Outcome> {
    // A stale announcement is worse than none: a clip is not queued for a reconnect, it fails now.
    if (this.closed || !this.link.isOpen) return 'failed';
    const wait = this.quietUntil - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (this.closed || !this.link.isOpen) return 'failed';
    return new Promise<Outcome>((resolve) => {
      let over = false;
      const end = (outcome: Outcome, why: string) => {
        if (over) return;
        over = true;
        clearTimeout(timer);
        if (this.active === current) this.active = undefined;
        this.quietUntil = Date.now() + this.settleMs;
        if (outcome !== 'played') this.log?.warn({ folder: clip.folder, track: clip.track, outcome, why }, 'DFPlayer clip not played to its end');
        resolve(outcome);
      };
      // The clock starts with the command, so a write stuck behind a vanished line still ends.
      const timer = setTimeout(() => end('timedOut', `no finished report within ${timeoutMs} ms`), timeoutMs);
      const current: ActiveClip = { clip, end };
      this.active = current;
      this.link.write(dfFrame(DF_CMD.playFolder, (clip.folder << 8) | clip.track)).catch((e: Error) => end('failed', `write refused: ${e.message}`));
    });
  }

  private onReport(r: DfReport): void {
    this.setPresent(true, 'module answered');
    for (const fn of [...this.frameWaiters]) fn(r);
    this.emit('report', r);
    switch (r.cmd) {
      case DF_REPORT.finishedSd:
      case DF_REPORT.finishedUsb:
      case DF_REPORT.finishedFlash: {
        const now = Date.now();
        const last = this.lastFinish;
        if (last && last.cmd === r.cmd && last.param === r.param && now - last.at < this.duplicateWindowMs) {
          this.counts.duplicateReports++;
          return;
        }
        this.lastFinish = { cmd: r.cmd, param: r.param, at: now };
        // The number is not compared with the clip's track: for folder play,
        // real modules report the file's index on the card, not its number in
        // the folder. Only one clip is ever playing, so any report is its end.
        this.active?.end('played', 'finished');
        return;
      }
      case DF_REPORT.error:
        this.counts.deviceErrors++;
        this.emit('deviceError', r.param & 0xff);
        this.active?.end('failed', `module error ${r.param & 0xff}${(r.param & 0xff) === DF_ERROR.fileNotFound ? ' (file not found)' : ''}`);
        return;
      case DF_REPORT.initDone:
        // The module restarted: whatever it was playing is gone, and so is its volume.
        this.active?.end('failed', 'module restarted');
        if (this.wantedVolume !== undefined) this.link.write(dfFrame(DF_CMD.volume, this.wantedVolume), { key: 'dfplayer-volume' }).catch(() => undefined);
        return;
      case DF_REPORT.cardRemoved:
        this.active?.end('failed', 'SD card removed');
        return;
      default:
        return;
    }
  }

  private onLineState(open: boolean): void {
    if (open) return; // presence is claimed by the module talking, not by the adapter opening
    this.setPresent(false, 'serial line closed');
    this.active?.end('failed', 'serial line closed');
  }

  private setPresent(present: boolean, why: string): void {
    if (this.isPresent === present) return;
    this.isPresent = present;
    if (present) this.emit('present');
    else this.emit('gone', why);
    this.log?.info({ present, why }, present ? 'DFPlayer present' : 'DFPlayer not answering');
  }
}
