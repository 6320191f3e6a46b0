/**
 * ESC/POS for the ticket printer of a dispenser: the few commands a queue
 * ticket needs, as bytes, and a small driver that prints and reads the
 * paper sensor over any `ByteLink`.
 *
 * Text is never sent as text: printer code pages cannot shape Arabic
 * (joining forms, lam-alef, right-to-left), so the whole ticket arrives as
 * one raster image (`GS v 0`) rendered by devices/render/ticket.ts. That
 * also makes the output identical on every printer model and code page.
 */
import type { ByteLink } from './serial/types.js';

const ESC = 0x1b;
const GS = 0x1d;
const DLE = 0x10;
const EOT = 0x04;

/**
 * A 1-bit image as printers take it: rows top to bottom, each row
 * `ceil(width / 8)` bytes, leftmost pixel in the most significant bit,
 * 1 = black (burnt dot). Padding bits at the end of a row are 0.
 */
export interface Bitmap {
  width: number;
  height: number;
  data: Buffer;
}

/** What the roll-paper sensor says: enough paper, nearly used up, none. */
export type PaperState = 'ok' | 'low' | 'out';

/** Bytes per raster row of a bitmap `width` dots wide. */
export function rowBytes(width: number): number {
  return Math.ceil(width / 8);
}

/**
 * ESC @: back to power-on settings. Sent first in every job so a setting
 * left over from anything else on the printer (line spacing, upside-down
 * mode, a half-received command after a cable wobble) cannot change the
 * ticket.
 */
export function init(): Buffer {
  return Buffer.from([ESC, 0x40]);
}

/**
 * Rows per `GS v 0` block. The command itself allows more (yH·256 + yL),
 * but printers differ in how many rows one block may hold (Epson: up to
 * 2303; some clones fail or mis-print above one or two hundred rows of
 * 72 bytes because of small receive buffers and firmware that ignores yH).
 * 255-row bands keep yH = 0 on every block, which every GS v 0 printer
 * handles, and the printer can start burning a band while the next one is
 * still on the wire. Bands abut: each block advances the paper by exactly
 * its height, so no seam is visible.
 */
export const DEFAULT_BAND_ROWS = 255;

/**
 * GS v 0 m xL xH yL yH d…: the bitmap as raster bit image, split into
 * bands of at most `bandRows` rows (see DEFAULT_BAND_ROWS). m = 0: normal
 * size (one image pixel = one dot), which is what the renderer draws for.
 */
export function raster(bitmap: Bitmap, opts: { bandRows?: number } = {}): Buffer {
  const { width, height, data } = bitmap;
  const bandRows = opts.bandRows ?? DEFAULT_BAND_ROWS;
  if (!Number.isInteger(width) || width < 1) throw new RangeError(`raster: width must be a positive integer, got ${width}`);
  if (!Number.isInteger(height) || height < 1) throw new RangeError(`raster: height must be a positive integer, got ${height}`);
  if (!Number.isInteger(bandRows) || bandRows < 1 || bandRows > 0xffff) throw new RangeError(`raster: bandRows must be 1..65535, got ${bandRows}`);
  const bpr = rowBytes(width);
  if (bpr > 0xffff) throw new RangeError(`raster: ${width} dots is wider than GS v 0 can describe`);
  if (data.length !== bpr * height) {
    throw new RangeError(`raster: ${width}x${height} needs ${bpr * height} bytes of data, got ${data.length}`);
  }
  const parts: Buffer[] = [];
  for (let top = 0; top < height; top += bandRows) {
    const rows = Math.min(bandRows, height - top);
    parts.push(
      Buffer.from([GS, 0x76, 0x30, 0, bpr & 0xff, bpr >> 8, rows & 0xff, rows >> 8]),
      data.subarray(top * bpr, (top + rows) * bpr),
    );
  }
  return Buffer.concat(parts);
}

/**
 * The same image as `raster`, in far fewer bytes: a ticket is mostly white,
 * and a serial printer at 9600 baud takes a second per kilobyte. Runs of
 * blank rows go as 8-dot-wide blank bands (1 byte a row instead of 72), and
 * each band of ink is cut after its last column with ink (a raster image is
 * printed from the left margin, so what is right of the ink can be left
 * out). Only GS v 0, as `raster`: every row still advances the paper by
 * exactly one dot, on every printer.
 */
export function compactRaster(bitmap: Bitmap, opts: { bandRows?: number } = {}): Buffer {
  const { width, height, data } = bitmap;
  const bandRows = Math.min(opts.bandRows ?? DEFAULT_BAND_ROWS, 0xffff);
  const bpr = rowBytes(width);
  if (data.length !== bpr * height) throw new RangeError(`raster: ${width}x${height} needs ${bpr * height} bytes of data, got ${data.length}`);
  // Bytes of ink per row: up to the last byte that is not 0.
  const used = new Array<number>(height);
  for (let y = 0; y < height; y++) {
    let n = bpr;
    while (n > 0 && data[y * bpr + n - 1] === 0) n--;
    used[y] = n;
  }
  const parts: Buffer[] = [];
  const band = (top: number, rows: number, bytes: number) => {
    parts.push(Buffer.from([GS, 0x76, 0x30, 0, bytes & 0xff, bytes >> 8, rows & 0xff, rows >> 8]));
    if (bytes === 1 && used[top] === 0) parts.push(Buffer.alloc(rows));
    else for (let y = top; y < top + rows; y++) parts.push(data.subarray(y * bpr, y * bpr + bytes));
  };
  let y = 0;
  while (y < height) {
    const blank = used[y] === 0;
    let end = y;
    while (end < height && end - y < bandRows && (used[end] === 0) === blank) end++;
    band(y, end - y, blank ? 1 : Math.max(...used.slice(y, end)));
    y = end;
  }
  return Buffer.concat(parts);
}

/**
 * ESC d n: prints what is buffered and feeds `lines` lines (at the default
 * 1/6 inch line spacing, which ESC @ restores). More than 255 lines are
 * sent as several commands.
 */
export function feed(lines: number): Buffer {
  if (!Number.isInteger(lines) || lines < 0) throw new RangeError(`feed: lines must be a whole number ≥ 0, got ${lines}`);
  const parts: Buffer[] = [];
  for (let left = lines; left > 0; left -= 255) parts.push(Buffer.from([ESC, 0x64, Math.min(255, left)]));
  return Buffer.concat(parts);
}

/**
 * GS V 66 n (function B): feeds the paper until the last printed row has
 * passed the cutter (plus n motion units; 0 here), then cuts.
 * Partial cut by default: the ticket stays hanging by a small tab in the
 * dispenser's slot for the citizen to tear off instead of dropping to the
 * floor or into the mechanism; `full: true` gives GS V 65 n for printers
 * with a presenter. Function B is used rather than GS V 1 because GS V 1
 * cuts where the paper stands: the cutter sits a centimetre or so past the
 * head, so the ticket's last lines would end up on the next ticket.
 */
export function cut(opts: { full?: boolean } = {}): Buffer {
  return Buffer.from([GS, 0x56, opts.full ? 65 : 66, 0]);
}

/**
 * DLE EOT n: real-time status request; the printer answers one byte even
 * while busy. n = 1 printer, 2 offline cause, 3 error cause, 4 roll paper
 * sensor.
 */
export function statusRequest(n: 1 | 2 | 3 | 4): Buffer {
  return Buffer.from([DLE, EOT, n]);
}

/**
 * Reads the answer to DLE EOT 4. The byte has a fixed frame: bits 1 and 4
 * always 1, bits 0 and 7 always 0 (mask 0x93 must give 0x12); any other
 * byte is not a status answer (line noise, a byte from something else) and
 * gives undefined. Bits 2–3: paper near end; bits 5–6: paper end. Epson
 * sets both bits of a pair together; some clones set only one, so either
 * bit counts: telling staff "paper low" once too often is cheaper than a
 * dispenser that silently runs out.
 */
export function parsePaperStatus(byte: number): PaperState | undefined {
  if (!Number.isInteger(byte) || byte < 0 || byte > 0xff) return undefined;
  if ((byte & 0x93) !== 0x12) return undefined;
  if (byte & 0x60) return 'out';
  if (byte & 0x0c) return 'low';
  return 'ok';
}

/** Whatever logger the caller has (pino fits). */
export interface EscPosLog {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/**
 * A thermal printer on a line. Printing is one write of the whole job;
 * the paper sensor is polled with DLE EOT 4.
 */
export class EscPosPrinter {
  /** The request now on the wire; later callers share its answer. */
  private pending?: Promise<PaperState | undefined>;

  constructor(
    private readonly link: ByteLink,
    private readonly log?: EscPosLog,
  ) {}

  /**
   * Asks the roll-paper sensor. Resolves 'ok' | 'low' | 'out', or
   * undefined when no valid answer came within `timeoutMs` (printer off,
   * cable out, not an ESC/POS printer) or the line is down.
   *
   * Only one request is outstanding at a time: a second call while one is
   * on the wire gets the same answer instead of sending another request,
   * because two answers in flight cannot be told apart (they carry no id).
   */
  paper(timeoutMs = 500): Promise<PaperState | undefined> {
    if (!this.pending) {
      this.pending = this.askPaper(timeoutMs).finally(() => {
        this.pending = undefined;
      });
    }
    return this.pending;
  }

  /** Sends a job (e.g. ticketBytes()); resolves once the bytes left the host. */
  print(bytes: Buffer): Promise<void> {
    return this.link.write(bytes);
  }

  private askPaper(timeoutMs: number): Promise<PaperState | undefined> {
    // A request written while the line is away would wait in the line's
    // queue and be answered at some later moment nobody listens for.
    if (!this.link.isOpen) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const finish = (state: PaperState | undefined): void => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        offData();
        offState();
        resolve(state);
      };
      const offData = this.link.onData((chunk) => {
        // The first byte with the status frame is the answer; anything else
        // (noise, a late echo) is skipped rather than misread as paper state.
        for (const b of chunk) {
          const s = parsePaperStatus(b);
          if (s) return finish(s);
          this.log?.debug({ byte: b }, 'escpos: ignored byte while waiting for paper status');
        }
      });
      const offState = this.link.onState((open) => {
        if (!open) finish(undefined);
      });
      // An answer to an earlier request that timed out may still sit in
      // the input; it must not pass for the answer to this one.
      this.link.flushInput?.();
      // The timeout starts once the request has left the host: behind a
      // long ticket on a slow line the request itself may take seconds to
      // go out, and that is not the printer's silence.
      this.link.write(statusRequest(4), { key: 'escpos-status' }).then(
        () => {
          if (!done) timer = setTimeout(() => finish(undefined), timeoutMs);
        },
        (err: unknown) => {
          this.log?.warn({ err }, 'escpos: could not send the paper status request');
          finish(undefined);
        },
      );
    });
  }
}
