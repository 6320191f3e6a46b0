/**
 * A bus of LED-485 window displays (Modbus RTU slaves) on the far end of a
 * pseudo-terminal, written from the protocol description only: it has its
 * own CRC and its own segment table so that tests cross-check
 * drivers/modbus.ts and drivers/sevenseg.ts instead of agreeing with them.
 *
 *  - fn 06 register 0x0000 → the display shows that number; answer = echo.
 *  - fn 16 from 0x0080 → raw segment bytes, two per register (high byte
 *    first); answer = addr, fn, start, count + CRC.
 *  - other registers → exception 0x02; other functions → exception 0x01.
 *  - frames for addresses it does not serve, and bad CRCs, are ignored (as
 *    a real slave does: it must not talk over someone else).
 *
 * It also watches the master's manners: a request that starts arriving
 * while a display is still preparing its answer to the previous one is a
 * collision on a real half-duplex bus; those are counted in `overlaps`.
 */
import { SerialPort } from 'serialport';

export interface DisplaySpec {
  address: number;
  /** Characters on the display. */
  width?: number;
}

export interface SlaveEvent {
  address: number;
  fn: number;
  register: number;
  values: number[];
  /** What the display shows after this request (unchanged when dropped/refused). */
  shown: string | null;
  /** 'ok' answered; 'exception' answered with an exception; 'dropped' deliberately not answered. */
  outcome: 'ok' | 'exception' | 'dropped';
  /** performance.now() when the last byte of the request arrived / when the answer was handed to the port. */
  receivedAt: number;
  answeredAt?: number;
  /** Bytes of another request arrived before this one was answered. */
  overlapped: boolean;
}

/** Bit-by-bit CRC-16/Modbus straight from the description (reflected 0xA001, init 0xFFFF). */
function crc(bytes: Uint8Array): number {
  let r = 0xffff;
  for (let i = 0; i < bytes.length; i++) {
    r ^= bytes[i]!;
    for (let bit = 0; bit < 8; bit++) {
      const lsb = r & 1;
      r >>>= 1;
      if (lsb) r ^= 0xa001;
    }
  }
  return r;
}

function seal(body: number[]): Buffer {
  const c = crc(Uint8Array.from(body));
  return Buffer.from([...body, c & 0xff, c >> 8]);
}

/** Segment names (a = bit0 … g = bit6) → character, as a person would read the display. */
const READ: [string, string][] = [
  ['abcdef', '0'], ['bc', '1'], ['abdeg', '2'], ['abcdg', '3'], ['bcfg', '4'],
  ['acdfg', '5'], ['acdefg', '6'], ['abc', '7'], ['abcdefg', '8'], ['abcdfg', '9'],
  ['abcefg', 'A'], ['cdefg', 'B'], ['adef', 'C'], ['bcdeg', 'D'], ['adefg', 'E'],
  ['aefg', 'F'], ['acdef', 'G'], ['bcefg', 'H'], ['ef', 'I'], ['bcde', 'J'],
  ['acefg', 'K'], ['def', 'L'], ['abcef', 'M'], ['ceg', 'N'], ['cdeg', 'O'],
  ['abefg', 'P'], ['abcfg', 'Q'], ['eg', 'R'], ['defg', 'T'], ['bcdef', 'U'],
  ['cde', 'V'], ['bcdfg', 'Y'], ['g', '-'], ['d', '_'], ['', ' '],
];
const BY_PATTERN = new Map<number, string>(
  READ.map(([segs, ch]) => [[...segs].reduce((m, s) => m | (1 << (s.charCodeAt(0) - 97)), 0), ch]),
);

function readSegments(bytes: number[]): string | null {
  let out = '';
  for (const b of bytes) {
    out += BY_PATTERN.get(b & 0x7f) ?? '?';
    if (b & 0x80) out += '.';
  }
  const t = out.trim();
  return t === '' ? null : t;
}

interface Display {
  width: number;
  /** What the tube shows: a number (fn06) or raw bytes (fn16). */
  shown: string | null;
  raw: number[];
}

export class LedBusEmulator {
  readonly history: SlaveEvent[] = [];
  /** Requests that began arriving while an answer was still pending. */
  overlaps = 0;
  /**
   * Requests that arrived while the answer to the very same request was pending: the master's retry after
   * its response timeout. Not a manners problem (the master waited its timeout; on a loaded machine this
   * emulator can take longer than that to answer), so kept apart from `overlaps`.
   */
  repeats = 0;
  /** Frames with a bad CRC (ignored). */
  badCrc = 0;
  private readonly displays = new Map<number, Display>();
  private readonly port: SerialPort;
  private buf = Buffer.alloc(0);
  private toDrop = 0;
  private mute = false;
  private pendingAnswer?: SlaveEvent;
  private pendingFrame?: Buffer;
  /** The pending answer that bytes arrived over, decided once their frame is complete (a repeat or another request). */
  private interrupted?: { ev: SlaveEvent; frame: Buffer };
  private silenceTimer?: NodeJS.Timeout;

  /**
   * @param replyDelayMs a real display takes a few ms to answer; the window
   *   also makes a master that does not wait visible as overlaps.
   */
  constructor(
    path: string,
    specs: DisplaySpec[],
    private replyDelayMs = 15,
  ) {
    for (const s of specs) {
      const width = s.width ?? 4;
      this.displays.set(s.address, { width, shown: null, raw: new Array<number>(width + (width % 2)).fill(0) });
    }
    this.port = new SerialPort({ path, baudRate: 9600 });
    this.port.on('data', (chunk: Buffer) => this.onBytes(chunk));
  }

  /** Resolves once the port is open (requests sent before that are lost, as on a real unpowered bus). */
  ready(): Promise<void> {
    if (this.port.isOpen) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.port.once('open', () => resolve());
      this.port.once('error', reject);
    });
  }

  shown(address: number): string | null {
    return this.displays.get(address)?.shown ?? null;
  }

  /** Stay silent for the next n requests addressed to one of our displays (they are also not applied). */
  drop(n: number): void {
    this.toDrop += n;
  }

  /** How long the displays take to answer from now on (ms): a slow display keeps its answer pending longer. */
  replyDelay(ms: number): void {
    this.replyDelayMs = ms;
  }

  /** Silent: every request is ignored (still recorded as 'dropped'), as if the display were unpowered. */
  silent(on: boolean): void {
    this.mute = on;
  }

  close(): Promise<void> {
    clearTimeout(this.silenceTimer);
    if (!this.port.isOpen) return Promise.resolve();
    return new Promise((r) => this.port.close(() => r()));
  }

  // ----------------------------------------------------------------

  private onBytes(chunk: Buffer): void {
    if (this.pendingAnswer && !this.pendingAnswer.overlapped && !this.interrupted) {
      // The master is talking while we are about to answer: a collision on a real bus (unless it is its retry, see handle).
      this.interrupted = { ev: this.pendingAnswer, frame: this.pendingFrame! };
    }
    this.buf = Buffer.concat([this.buf, chunk]);
    // A real slave resets its receiver after 3.5 character times of silence; the
    // pty has no timing, so a longer pause stands in for it (drops half frames).
    clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => (this.buf = Buffer.alloc(0)), 100);
    this.parse();
  }

  /** Expected length of the request at the head of the buffer, or 0 if not known yet. */
  private requestLength(): number {
    if (this.buf.length < 2) return 0;
    const fn = this.buf[1]!;
    if (fn === 0x10) return this.buf.length < 7 ? 0 : 9 + this.buf[6]!;
    // Functions 01..06 all have 8-byte requests; unknown ones are assumed the same to resync.
    return 8;
  }

  private parse(): void {
    for (;;) {
      const len = this.requestLength();
      if (len === 0 || this.buf.length < len) return;
      const frame = this.buf.subarray(0, len);
      const c = crc(frame.subarray(0, len - 2));
      if (frame[len - 2] !== (c & 0xff) || frame[len - 1] !== c >> 8) {
        this.badCrc++;
        this.buf = this.buf.subarray(1);
        continue;
      }
      this.buf = this.buf.subarray(len);
      this.handle(Buffer.from(frame));
    }
  }

  private handle(frame: Buffer): void {
    const cut = this.interrupted;
    this.interrupted = undefined;
    if (cut) {
      if (cut.frame.equals(frame)) this.repeats++;
      else {
        this.overlaps++;
        cut.ev.overlapped = true;
      }
    }
    const address = frame[0]!;
    const fn = frame[1]!;
    const d = this.displays.get(address);
    if (!d) return;
    const register = frame.readUInt16BE(2);
    const values: number[] = [];
    if (fn === 0x06) values.push(frame.readUInt16BE(4));
    if (fn === 0x10) for (let i = 0; i < frame.readUInt16BE(4); i++) values.push(frame.readUInt16BE(7 + 2 * i));
    const ev: SlaveEvent = { address, fn, register, values, shown: d.shown, outcome: 'ok', receivedAt: performance.now(), overlapped: false };
    this.history.push(ev);
    if (this.mute || this.toDrop > 0) {
      if (!this.mute) this.toDrop--;
      ev.outcome = 'dropped';
      return;
    }
    let answer: Buffer;
    if (fn === 0x06 && register === 0x0000) {
      d.shown = String(values[0]);
      answer = Buffer.from(frame);
    } else if (fn === 0x10 && register >= 0x0080 && (register - 0x0080 + values.length) * 2 <= d.raw.length) {
      values.forEach((v, i) => {
        const at = (register - 0x0080 + i) * 2;
        d.raw[at] = v >> 8;
        d.raw[at + 1] = v & 0xff;
      });
      d.shown = readSegments(d.raw.slice(0, d.width));
      answer = seal([address, 0x10, frame[2]!, frame[3]!, frame[4]!, frame[5]!]);
    } else {
      ev.outcome = 'exception';
      answer = seal([address, fn | 0x80, fn === 0x06 || fn === 0x10 ? 0x02 : 0x01]);
    }
    ev.shown = d.shown;
    this.pendingAnswer = ev;
    this.pendingFrame = Buffer.from(frame);
    setTimeout(() => {
      // Cleared before writing: the master can only have our answer after this point.
      if (this.pendingAnswer === ev) this.pendingAnswer = undefined;
      ev.answeredAt = performance.now();
      if (this.port.isOpen) this.port.write(answer);
    }, this.replyDelayMs);
  }
}
