/**
 * An ESC/POS thermal printer at the far end of a serial line (a pty from
 * socat in tests). It reads the byte stream the way a printer does,
 * rebuilds the printed raster image, counts cut tickets and answers the
 * real-time paper-sensor request.
 *
 * Written from the ESC/POS command descriptions on purpose, without
 * importing drivers/escpos.ts: a shared misunderstanding of a command
 * would otherwise pass unnoticed.
 *
 * Commands understood:
 *   ESC @              1B 40                 initialise
 *   ESC d n            1B 64 n               print and feed n lines
 *   LF                 0A                    print and feed one line
 *   GS V m             1D 56 m (m 0,1,48,49) cut (0/48 full, 1/49 partial)
 *   GS V m n           1D 56 m n (m 65,66)   feed to cutter (+n), then cut (65 full, 66 partial)
 *   GS v 0 m xL xH yL yH d1…dk              raster bit image, k = (xL+xH·256)·(yL+yH·256)
 *   DLE EOT n          10 04 n (n 1–4)       real-time status; answered with one byte
 * Any other byte is recorded as unknown and skipped, as printers skip what
 * they cannot parse.
 */
import { SerialPort } from 'serialport';

export interface EmuBitmap {
  width: number;
  height: number;
  /** 1 bit per pixel, MSB = leftmost, rows padded to whole bytes, 1 = black. */
  data: Buffer;
}

export type EscPosEvent =
  | { type: 'init' }
  | { type: 'feed'; lines: number }
  | { type: 'cut'; partial: boolean }
  | { type: 'raster'; mode: number; bitmap: EmuBitmap }
  | { type: 'status'; n: number }
  | { type: 'unknown'; byte: number };

export interface PrintedTicket {
  /** Every raster band since the previous cut, stacked as the paper received them. */
  bitmap: EmuBitmap;
  /** False for a ticket still hanging in the printer (no cut seen yet). */
  cut: boolean;
  /** Lines fed by ESC d / LF within this ticket (not part of the bitmap). */
  feedLines: number;
}

export type EmuPaper = 'ok' | 'low' | 'out';

/**
 * Byte-stream parser that keeps incomplete commands across chunks: a raster
 * image arrives in many reads on a real line.
 */
export class EscPosStreamParser {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): EscPosEvent[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const events: EscPosEvent[] = [];
    let i = 0;
    const b = this.buf;
    // Each branch either consumes a whole command or stops to wait for more bytes.
    parse: while (i < b.length) {
      const c = b[i]!;
      const need = (n: number): boolean => i + n <= b.length;
      if (c === 0x1b) {
        if (!need(2)) break;
        const op = b[i + 1]!;
        if (op === 0x40) {
          events.push({ type: 'init' });
          i += 2;
        } else if (op === 0x64) {
          if (!need(3)) break;
          events.push({ type: 'feed', lines: b[i + 2]! });
          i += 3;
        } else {
          events.push({ type: 'unknown', byte: c });
          i += 1;
        }
      } else if (c === 0x1d) {
        if (!need(2)) break;
        const op = b[i + 1]!;
        if (op === 0x56) {
          if (!need(3)) break;
          const m = b[i + 2]!;
          if (m === 0 || m === 48 || m === 1 || m === 49) {
            events.push({ type: 'cut', partial: m === 1 || m === 49 });
            i += 3;
          } else if (m === 65 || m === 66) {
            if (!need(4)) break;
            events.push({ type: 'cut', partial: m === 66 });
            i += 4;
          } else {
            events.push({ type: 'unknown', byte: c });
            i += 1;
          }
        } else if (op === 0x76) {
          if (!need(3)) break;
          if (b[i + 2] !== 0x30) {
            events.push({ type: 'unknown', byte: c });
            i += 1;
            continue parse;
          }
          if (!need(8)) break;
          const mode = b[i + 3]!;
          const bytesPerRow = b[i + 4]! + b[i + 5]! * 256;
          const rows = b[i + 6]! + b[i + 7]! * 256;
          const size = bytesPerRow * rows;
          if (!need(8 + size)) break;
          const data = Buffer.from(b.subarray(i + 8, i + 8 + size));
          // The command gives the width in bytes only; the image is as wide as its rows.
          events.push({ type: 'raster', mode, bitmap: { width: bytesPerRow * 8, height: rows, data } });
          i += 8 + size;
        } else {
          events.push({ type: 'unknown', byte: c });
          i += 1;
        }
      } else if (c === 0x10) {
        if (!need(2)) break;
        if (b[i + 1] === 0x04) {
          if (!need(3)) break;
          events.push({ type: 'status', n: b[i + 2]! });
          i += 3;
        } else {
          events.push({ type: 'unknown', byte: c });
          i += 1;
        }
      } else if (c === 0x0a) {
        events.push({ type: 'feed', lines: 1 });
        i += 1;
      } else {
        events.push({ type: 'unknown', byte: c });
        i += 1;
      }
    }
    this.buf = Buffer.from(b.subarray(i));
    return events;
  }

  /** Bytes of a command not complete yet. */
  get pending(): number {
    return this.buf.length;
  }
}

/** Parses a whole job at once. */
export function parseEscPos(bytes: Buffer): EscPosEvent[] {
  return new EscPosStreamParser().push(bytes);
}

/**
 * Groups events into tickets the way paper comes out: raster bands stack
 * top to bottom, a cut ends the ticket. A narrower band is left-aligned
 * (as a printer does) in a ticket as wide as its widest band.
 */
export function ticketsFrom(events: EscPosEvent[], paperDots = 0): PrintedTicket[] {
  const out: PrintedTicket[] = [];
  let bands: EmuBitmap[] = [];
  let feedLines = 0;
  const close = (cut: boolean): void => {
    if (!bands.length && !cut) return;
    out.push({ bitmap: stack(bands, paperDots), cut, feedLines });
    bands = [];
    feedLines = 0;
  };
  for (const e of events) {
    if (e.type === 'raster') bands.push(e.bitmap);
    else if (e.type === 'feed') feedLines += e.lines;
    else if (e.type === 'cut') close(true);
  }
  close(false);
  return out;
}

/** Bands stacked top to bottom, left-aligned, on paper `paperDots` wide (or as wide as the widest band). */
function stack(bands: EmuBitmap[], paperDots: number): EmuBitmap {
  const width = Math.max(paperDots, ...bands.map((b) => b.width));
  const bpr = width / 8;
  const height = bands.reduce((a, b) => a + b.height, 0);
  const data = Buffer.alloc(bpr * height);
  let row = 0;
  for (const band of bands) {
    const bbpr = band.width / 8;
    for (let y = 0; y < band.height; y++, row++) band.data.copy(data, row * bpr, y * bbpr, (y + 1) * bbpr);
  }
  return { width, height, data };
}

/** The emulated printer on a serial device. */
export class EscPosPrinterEmulator {
  private readonly parser = new EscPosStreamParser();
  private readonly log: EscPosEvent[] = [];
  private paperState: EmuPaper = 'ok';
  private mute = false;
  private waiters: (() => void)[] = [];
  /** Bytes received in all. */
  received = 0;

  private constructor(
    private readonly port: SerialPort,
    /** The printable width of its paper: a band narrower than that prints from the left. */
    readonly paperDots: number,
  ) {
    port.on('data', (chunk: Buffer) => this.onBytes(chunk));
  }

  /** Opens `path` and resolves once the port is open. */
  static open(path: string, baudRate = 115200, paperDots = 576): Promise<EscPosPrinterEmulator> {
    return new Promise((resolve, reject) => {
      const port = new SerialPort({ path, baudRate, autoOpen: false });
      port.open((err) => (err ? reject(err) : resolve(new EscPosPrinterEmulator(port, paperDots))));
    });
  }

  /** What DLE EOT 4 reports from now on. */
  setPaper(state: EmuPaper): void {
    this.paperState = state;
  }

  /** A silent printer still prints but never answers status requests. */
  silent(on: boolean): void {
    this.mute = on;
  }

  /** Everything parsed so far, in order. */
  events(): EscPosEvent[] {
    return [...this.log];
  }

  tickets(): PrintedTicket[] {
    return ticketsFrom(this.log, this.paperDots);
  }

  /** Resolves once `n` tickets have been cut; rejects after `timeoutMs`. */
  async waitForCuts(n: number, timeoutMs = 10_000): Promise<PrintedTicket[]> {
    const cutCount = (): number => this.tickets().filter((t) => t.cut).length;
    const t0 = Date.now();
    while (cutCount() < n) {
      const left = timeoutMs - (Date.now() - t0);
      if (left <= 0) throw new Error(`printer emulator: ${cutCount()} of ${n} tickets cut after ${timeoutMs} ms (${this.received} bytes received)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.tickets();
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.port.isOpen) return resolve();
      this.port.close(() => resolve());
    });
  }

  private onBytes(chunk: Buffer): void {
    this.received += chunk.length;
    for (const e of this.parser.push(chunk)) {
      this.log.push(e);
      if (e.type === 'status' && !this.mute) {
        const answer = this.statusByte(e.n);
        if (answer !== undefined) this.port.write(Buffer.from([answer]));
      }
    }
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /**
   * Answer bytes all carry the fixed frame 0xx1 xx10 (bits 1 and 4 set,
   * 0 and 7 clear). n = 4: bits 2–3 paper near end, bits 5–6 paper end;
   * a roll that has run out has also passed the near-end sensor, so 'out'
   * sets both pairs, as real printers report it.
   */
  private statusByte(n: number): number | undefined {
    switch (n) {
      case 1: // printer status: bit 3 = offline (a printer without paper goes offline)
        return this.paperState === 'out' ? 0x1a : 0x12;
      case 2: // offline cause: bit 5 = stopped for paper end
        return this.paperState === 'out' ? 0x32 : 0x12;
      case 3: // error cause: none emulated
        return 0x12;
      case 4:
        return this.paperState === 'out' ? 0x7e : this.paperState === 'low' ? 0x1e : 0x12;
      default:
        return undefined;
    }
  }
}
