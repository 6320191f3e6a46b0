/**
 * Seven-segment glyphs and the LED-485 window display's Modbus frames.
 *
 * Bit layout (the usual one, and the LED-485's): bit0=a (top), bit1=b (top
 * right), bit2=c (bottom right), bit3=d (bottom), bit4=e (bottom left),
 * bit5=f (top left), bit6=g (middle), bit7=dp.
 *
 *      aaa
 *     f   b
 *      ggg
 *     e   c
 *      ddd  .dp
 *
 * Letters are case-insensitive; several can only be drawn in lower case.
 * Choices where a letter is ambiguous or a compromise:
 *  - B, D, N, O, Q, R, T, V are drawn lower case (b d n o q r t u): the upper
 *    case forms would be 8, 0, 0, 0, 9 or nothing. O is deliberately the small
 *    "o" so a ticket "O12" cannot be read as "012".
 *  - I uses the left segments (e f) so it differs from 1 (b c).
 *  - S is identical to 5 and Z to 2: unavoidable on seven segments, accepted
 *    because the surrounding digits make the ticket unambiguous to a person.
 *  - K is drawn as a f e g c (an "H" with a hat and without the upper right
 *    stroke), the closest common rendering; it cannot be confused with H.
 *  - M is drawn as an upside-down U (a b c e f): readable as M next to a
 *    number, but the same shape some displays use for N (we use small n).
 *  - V is the small u (c d e) so it differs from U (b c d e f).
 *  - W and X have no readable form (every attempt reads as another letter:
 *    X as H, W as U or 8). They are NOT substituted by a look-alike, which
 *    would show a customer a wrong ticket: they, and any other character
 *    without a glyph, are drawn as '-' so the digits still show and the gap is
 *    visibly "not a letter". `unshowable()` lists such characters so config
 *    checks can refuse a ticket prefix like "W" before it is ever called.
 */
import { writeRegisterFrame, writeRegistersFrame } from './modbus.js';

const A = 0x01;
const B = 0x02;
const C = 0x04;
const D = 0x08;
const E = 0x10;
const F = 0x20;
const G = 0x40;
/** Decimal point: bit7. */
export const DP = 0x80;

const GLYPHS: Record<string, number> = {
  '0': A | B | C | D | E | F,
  '1': B | C,
  '2': A | B | D | E | G,
  '3': A | B | C | D | G,
  '4': B | C | F | G,
  '5': A | C | D | F | G,
  '6': A | C | D | E | F | G,
  '7': A | B | C,
  '8': A | B | C | D | E | F | G,
  '9': A | B | C | D | F | G,
  A: A | B | C | E | F | G,
  B: C | D | E | F | G, // b
  C: A | D | E | F,
  D: B | C | D | E | G, // d
  E: A | D | E | F | G,
  F: A | E | F | G,
  G: A | C | D | E | F,
  H: B | C | E | F | G,
  I: E | F,
  J: B | C | D | E,
  K: A | C | E | F | G,
  L: D | E | F,
  M: A | B | C | E | F,
  N: C | E | G, // n
  O: C | D | E | G, // o
  P: A | B | E | F | G,
  Q: A | B | C | F | G, // q
  R: E | G, // r
  S: A | C | D | F | G, // same as 5
  T: D | E | F | G, // t
  U: B | C | D | E | F,
  V: C | D | E, // u
  Y: B | C | D | F | G,
  Z: A | B | D | E | G, // same as 2
  '-': G,
  ' ': 0,
  _: D,
};

/** What a character without a glyph is drawn as (see the header). */
export const NO_GLYPH = G;

/** The segment byte for one character, or undefined when it has no readable form. */
export function glyph(ch: string): number | undefined {
  return GLYPHS[ch.toUpperCase()];
}

/** Characters of `text` that would be drawn as NO_GLYPH ('.' is fine: it lights a decimal point). */
export function unshowable(text: string): string[] {
  const bad = new Set<string>();
  for (const ch of text) if (ch !== '.' && glyph(ch) === undefined) bad.add(ch);
  return [...bad];
}

/**
 * Segment bytes for `text` on a display `width` characters wide,
 * right-aligned and padded with blanks on the left (how ticket numbers are
 * read). A '.' lights the decimal point of the character before it and
 * takes no position. Text longer than the display throws: cutting a
 * character off would show a different ticket.
 */
export function segments(text: string, width: number): number[] {
  if (!Number.isInteger(width) || width < 1) throw new RangeError(`display width must be a positive integer, got ${width}`);
  const cells: number[] = [];
  for (const ch of text) {
    if (ch === '.') {
      if (cells.length === 0) cells.push(DP);
      else cells[cells.length - 1]! |= DP;
      continue;
    }
    cells.push(glyph(ch) ?? NO_GLYPH);
  }
  if (cells.length > width) throw new RangeError(`"${text}" needs ${cells.length} characters, the display has ${width}`);
  return [...new Array<number>(width - cells.length).fill(0), ...cells];
}

/** LED-485 registers: 0x0000 = number shown; 0x0080.. = raw segments, two characters per register. */
export const LED485_NUMBER_REGISTER = 0x0000;
export const LED485_SEGMENT_REGISTER = 0x0080;

/**
 * The Modbus frames that make the LED-485 at `address` show `text`.
 *  - Digits only, without a leading zero → function 06, register 0, the
 *    number (the display's own number mode).
 *  - Anything else (letter prefix such as "A042", a leading zero such as
 *    "007" that number mode would drop, '-') → function 16 from 0x0080 with the
 *    segment bytes two per register, first character in the high byte. An odd
 *    width leaves the low byte of the last register 0 (no character there).
 *  - null / empty / only blanks → function 16 with all segments off.
 * Pure: the frames only; ModbusBus.send() puts them on the bus.
 */
export function led485Frames(address: number, text: string | null | undefined, width: number): Buffer[] {
  const t = (text ?? '').trim();
  if (/^[1-9][0-9]*$/.test(t) || t === '0') {
    if (t.length > width) throw new RangeError(`"${t}" needs ${t.length} digits, the display has ${width}`);
    const n = Number(t);
    if (n > 0xffff) throw new RangeError(`${t} is too large for the display's number register (max 65535)`);
    return [writeRegisterFrame(address, LED485_NUMBER_REGISTER, n)];
  }
  const bytes = segments(t, width);
  const regs: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) regs.push((bytes[i]! << 8) | (bytes[i + 1] ?? 0));
  return [writeRegistersFrame(address, LED485_SEGMENT_REGISTER, regs)];
}
