/**
 * Framing of qhub's plain ASCII line protocol (docs/LINE-PROTOCOL.md): one
 * message per line, ASCII 0x20–0x7E, fields separated by single spaces, at
 * most 96 characters, ended by LF (a CR before it is ignored). Bytes and
 * fields only; what a line means is the device model's business.
 */
import { ReadlineParser } from '@serialport/parser-readline';
import type { ByteLink } from './serial/types.js';

export const MAX_LINE = 96;

export class LineError extends Error {}

/** One line out: fields joined by spaces, checked, LF-terminated. */
export function lineFrame(fields: readonly (string | number)[]): Buffer {
  const text = fields.map(String).join(' ');
  if (text.length > MAX_LINE) throw new LineError(`line of ${text.length} characters; at most ${MAX_LINE}`);
  if (!/^[\x20-\x7e]*$/.test(text)) throw new LineError(`line has a character outside printable ASCII: ${JSON.stringify(text)}`);
  return Buffer.from(`${text}\r\n`, 'ascii');
}

/** Fields of one received line; a line outside the protocol's character set or length is refused with the reason. */
export function parseLine(raw: string): { ok: true; fields: string[] } | { ok: false; why: string } {
  const text = raw.replace(/\r$/, '');
  if (text.length > MAX_LINE) return { ok: false, why: `line of ${text.length} characters; at most ${MAX_LINE}` };
  if (!/^[\x20-\x7e]*$/.test(text)) return { ok: false, why: 'line has bytes outside printable ASCII' };
  return { ok: true, fields: text.split(' ').filter((f) => f.length > 0) };
}

/**
 * Lines from a ByteLink, through serialport's readline parser. A line that
 * grows past the limit without an LF is reported once and dropped up to its
 * LF, so a device spewing garbage cannot grow the buffer without end, and
 * the tail of a refused line never passes for a line of its own.
 */
export class LineReader {
  private parser = this.fresh();
  private pendingBytes = 0;
  private discarding = false;
  private readonly off: () => void;

  constructor(
    link: ByteLink,
    private readonly onLine: (raw: string) => void,
    private readonly onOverlong: () => void = () => {},
  ) {
    this.off = link.onData((chunk) => this.push(chunk));
  }

  private fresh(): ReadlineParser {
    const p = new ReadlineParser({ delimiter: '\n', encoding: 'latin1' });
    p.on('data', (line: string) => {
      this.pendingBytes = 0;
      this.onLine(line);
    });
    return p;
  }

  private push(chunk: Buffer): void {
    if (this.discarding) {
      // The rest of a refused line is refused with it, up to its LF: its tail must not pass for a new line.
      const lf = chunk.indexOf(0x0a);
      if (lf < 0) return;
      this.discarding = false;
      chunk = chunk.subarray(lf + 1);
      if (!chunk.length) return;
    }
    const lf = chunk.lastIndexOf(0x0a);
    this.pendingBytes = lf < 0 ? this.pendingBytes + chunk.length : chunk.length - lf - 1;
    this.parser.write(chunk);
    if (this.pendingBytes > MAX_LINE * 2) {
      this.parser.removeAllListeners();
      this.parser.destroy();
      this.parser = this.fresh();
      this.pendingBytes = 0;
      this.discarding = true;
      this.onOverlong();
    }
  }

  close(): void {
    this.off();
    this.parser.removeAllListeners();
    this.parser.destroy();
  }
}
