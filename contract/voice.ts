/**
 * What a call says: the words of an announcement as a sequence of recorded
 * clips, in Arabic and in English. Pure code, no audio: a voice pack (a
 * center's recordings, or a demo pack spoken by a TTS engine) holds one
 * file per clip id of `CLIPS`, and a speaker plays the ids `composeCall`
 * returns, in order.
 *
 * Choices, and why (docs/VOICE.md, "What a call says", has the tables):
 * - Arabic numbers are Modern Standard Arabic in the nominative, in the
 *   masculine counting forms used for a bare number ("رقم ٢٣" = ثلاثة
 *   وعشرون): units before tens joined by و, 11 = أحد عشر, 12 = اثنا عشر,
 *   13–19 = ثلاثة عشر … تسعة عشر, hundreds مئة، مئتان، ثلاثمئة … تسعمئة
 *   (مئة, not مائة: the silent alif of مائة is read "mā'a" by readers and
 *   TTS engines that take the letters at their word), thousands ألف، ألفان،
 *   ثلاثة آلاف … تسعة آلاف; every following part is joined by و
 *   (ألف وواحد، ألفان وتسعة عشر).
 * - One clip per spoken word of a number, so 0..9999 needs a few dozen
 *   clips rather than ten thousand. The conjunction و is written attached
 *   to the next word and is a single short syllable: a clip of its own
 *   sounds choppy, so each word that can follow و also has a wa-form clip
 *   (`wa.20` = "وعشرون").
 * - English numbers use British "and" before the last part under a
 *   hundred (one hundred and one, two thousand and nineteen): it marks
 *   the same boundary the Arabic و does, so both languages are heard the
 *   same way, and Egyptian schools teach British English.
 * - Ticket prefixes are Latin capitals on the boards, so they are called by
 *   their Latin letter names, in Arabic script for the Arabic voice
 *   (إيه، بي، سي …) as Egyptians say them; English Z is "zed" (British).
 * - A ticket "A042" is read as its letter and the value 42, never "zero
 *   four two": the board shows the padding, the ear needs the number.
 * - Fixed phrases ("المواطن رقم", "please go to window") are one clip each,
 *   recorded in one breath: they never vary, so splitting them only adds
 *   seams.
 */

export type Lang = 'ar' | 'en';
/** `sound` clips are not speech (the chime): a pack provides them as audio files, TTS never speaks them. */
export type ClipLang = Lang | 'sound';
export interface ClipRef {
  lang: ClipLang;
  id: string;
}
export type InquiryReading = 'digits' | 'pairs' | 'triples';

export interface CallSpec {
  /** The number on the board: a ticket ("A042", "042") or, with `inquiry`, an inquiry number ("20261124-0157"). */
  t: string;
  /** The window number, 1..999 in the configuration; read as a number. */
  w: number;
  /** `t` is an inquiry number (a delivery call), read by `inquiryReading`. */
  inquiry?: boolean;
  lang: Lang | 'both';
  /** Full form with a chime (default). false: the shortened form for a busy hall, no chime and fewer words. */
  chime?: boolean;
  /** How an inquiry number's digits are read; default 'digits'. */
  inquiryReading?: InquiryReading;
}

export interface ComposedCall {
  clips: ClipRef[];
  /** The spoken words of `clips` (sounds left out) joined by single spaces. */
  text: string;
}

export class VoiceWordsError extends Error {
  override readonly name = 'VoiceWordsError';
}

// ----- Arabic numbers -------------------------------------------------------

/** Whole-value number words: the ids are the values they say. */
const AR_VALUES: Record<number, string> = {
  0: 'صفر',
  1: 'واحد',
  2: 'اثنان',
  3: 'ثلاثة',
  4: 'أربعة',
  5: 'خمسة',
  6: 'ستة',
  7: 'سبعة',
  8: 'ثمانية',
  9: 'تسعة',
  10: 'عشرة',
  20: 'عشرون',
  30: 'ثلاثون',
  40: 'أربعون',
  50: 'خمسون',
  60: 'ستون',
  70: 'سبعون',
  80: 'ثمانون',
  90: 'تسعون',
  100: 'مئة',
  200: 'مئتان',
  300: 'ثلاثمئة',
  400: 'أربعمئة',
  500: 'خمسمئة',
  600: 'ستمئة',
  700: 'سبعمئة',
  800: 'ثمانمئة',
  900: 'تسعمئة',
  1000: 'ألف',
  2000: 'ألفان',
};

/** Words that are only part of a number: the first words of 11 and 12, the "-teen" word, the plural "thousands". */
const AR_PARTS: Record<string, string> = {
  '11.1': 'أحد',
  '12.1': 'اثنا',
  teen: 'عشر',
  thousands: 'آلاف',
};

/** Words a و can precede in 0..9999: the first word of any part after the first (a hundreds word, or 1..99's first word), and a tens word after a unit. */
const AR_WA_TARGETS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11.1', '12.1', '20', '30', '40', '50', '60', '70', '80', '90', '100', '200', '300', '400', '500', '600', '700', '800', '900'];

const wa = (id: string): string => `wa.${id}`;

function checkRange(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 9999) throw new VoiceWordsError(`numbers are read from 0 to 9999, not ${String(n)}`);
}

/** 1..99 as Arabic clip ids, before any و. */
function arabicBelow100(r: number): string[] {
  if (r <= 10) return [String(r)];
  if (r === 11) return ['11.1', 'teen'];
  if (r === 12) return ['12.1', 'teen'];
  if (r < 20) return [String(r - 10), 'teen'];
  const unit = r % 10;
  const tens = r - unit;
  // Units first, the tens joined by و: 23 = ثلاثة وعشرون.
  return unit === 0 ? [String(tens)] : [String(unit), wa(String(tens))];
}

/** n in 0..9999 as Arabic clip ids, one per spoken word. */
export function arabicNumber(n: number): string[] {
  checkRange(n);
  if (n === 0) return ['0'];
  const thousands = Math.floor(n / 1000);
  const hundreds = Math.floor(n / 100) % 10;
  const rest = n % 100;
  const parts: string[][] = [];
  if (thousands === 1) parts.push(['1000']);
  else if (thousands === 2) parts.push(['2000']);
  else if (thousands > 2) parts.push([String(thousands), 'thousands']); // ثلاثة آلاف: counted plural after 3..9
  if (hundreds > 0) parts.push([String(hundreds * 100)]);
  if (rest > 0) parts.push(arabicBelow100(rest));
  // Every part after the first starts with و, attached to its first word.
  return parts.flatMap((p, i) => (i === 0 ? p : [wa(p[0]!), ...p.slice(1)]));
}

export function arabicNumberText(n: number): string {
  return wordsOf('ar', arabicNumber(n));
}

// ----- English numbers ------------------------------------------------------

const EN_VALUES: Record<number, string> = {
  0: 'zero',
  1: 'one',
  2: 'two',
  3: 'three',
  4: 'four',
  5: 'five',
  6: 'six',
  7: 'seven',
  8: 'eight',
  9: 'nine',
  10: 'ten',
  11: 'eleven',
  12: 'twelve',
  13: 'thirteen',
  14: 'fourteen',
  15: 'fifteen',
  16: 'sixteen',
  17: 'seventeen',
  18: 'eighteen',
  19: 'nineteen',
  20: 'twenty',
  30: 'thirty',
  40: 'forty',
  50: 'fifty',
  60: 'sixty',
  70: 'seventy',
  80: 'eighty',
  90: 'ninety',
};

const EN_PARTS: Record<string, string> = { hundred: 'hundred', thousand: 'thousand', and: 'and' };

function englishBelow100(r: number): string[] {
  if (r < 20) return [String(r)];
  const unit = r % 10;
  return unit === 0 ? [String(r)] : [String(r - unit), String(unit)];
}

/** n in 0..9999 as English clip ids (British: "and" before the last part under a hundred). */
export function englishNumber(n: number): string[] {
  checkRange(n);
  if (n === 0) return ['0'];
  const thousands = Math.floor(n / 1000);
  const hundreds = Math.floor(n / 100) % 10;
  const rest = n % 100;
  const out: string[] = [];
  if (thousands > 0) out.push(String(thousands), 'thousand');
  if (hundreds > 0) out.push(String(hundreds), 'hundred');
  if (rest > 0) {
    if (out.length > 0) out.push('and');
    out.push(...englishBelow100(rest));
  }
  return out;
}

export function englishNumberText(n: number): string {
  return wordsOf('en', englishNumber(n));
}

/** A number in either language. */
export function numberClips(lang: Lang, n: number): string[] {
  return lang === 'ar' ? arabicNumber(n) : englishNumber(n);
}

// ----- Letters --------------------------------------------------------------

export const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * The Latin letter names as Egyptians say them, in Arabic script. P is
 * written with the Persian پ because Arabic has no /p/ and "بي" would
 * make B and P one clip; a center recording its own clips says "pee".
 */
const AR_LETTERS: Record<string, string> = {
  A: 'إيه',
  B: 'بي',
  C: 'سي',
  D: 'دي',
  E: 'إي',
  F: 'إف',
  G: 'جي',
  H: 'إتش',
  I: 'آي',
  J: 'جيه',
  K: 'كيه',
  L: 'إل',
  M: 'إم',
  N: 'إن',
  O: 'أو',
  P: 'پي',
  Q: 'كيو',
  R: 'آر',
  S: 'إس',
  T: 'تي',
  U: 'يو',
  V: 'في',
  W: 'دبليو',
  X: 'إكس',
  Y: 'واي',
  Z: 'زد',
};

/** The clip id of a letter's name (same id in both languages). */
export function letterClip(letter: string): string {
  if (letter.length !== 1 || !LETTERS.includes(letter)) throw new VoiceWordsError(`"${letter}" is not a capital Latin letter A–Z`);
  return `letter.${letter}`;
}

// ----- Phrases and the inventory --------------------------------------------

const AR_PHRASES: Record<string, string> = {
  // Full form, as the announcer's text had it: courteous, and "المواطن" is how the center's own documents name the caller.
  'citizen.number': 'المواطن رقم',
  'go.to.window': 'يرجى التوجه إلى الشباك رقم',
  // Shortened form and inquiry calls.
  number: 'رقم',
  window: 'شباك',
  'inquiry.number': 'رقم الاستعلام',
};

const EN_PHRASES: Record<string, string> = {
  number: 'number',
  'go.to.window': 'please go to window',
  window: 'window',
  'inquiry.number': 'inquiry number',
};

function build(lang: Lang): Record<string, string> {
  const out: Record<string, string> = {};
  const values = lang === 'ar' ? AR_VALUES : EN_VALUES;
  for (const [k, v] of Object.entries(values)) out[k] = v;
  for (const [k, v] of Object.entries(lang === 'ar' ? AR_PARTS : EN_PARTS)) out[k] = v;
  if (lang === 'ar') {
    const plain = { ...AR_VALUES, ...AR_PARTS } as Record<string, string>;
    for (const id of AR_WA_TARGETS) out[wa(id)] = `و${plain[id]!}`;
  }
  for (const l of LETTERS) out[letterClip(l)] = lang === 'ar' ? AR_LETTERS[l]! : l;
  for (const [k, v] of Object.entries(lang === 'ar' ? AR_PHRASES : EN_PHRASES)) out[k] = v;
  return out;
}

/** Every clip a call can use, per language: id → the words it says (what a recording or a TTS engine speaks). */
export const CLIPS: Record<Lang, Readonly<Record<string, string>>> = { ar: Object.freeze(build('ar')), en: Object.freeze(build('en')) };

/** Non-speech clips: id → what the sound is, for whoever makes the pack. */
export const SOUNDS: Readonly<Record<string, string>> = Object.freeze({ chime: 'the attention chime played once before a full call' });

/** The words of a language's clip ids, joined by spaces. */
export function wordsOf(lang: Lang, ids: readonly string[]): string {
  return ids
    .map((id) => {
      const w = CLIPS[lang][id];
      if (w === undefined) throw new VoiceWordsError(`no ${lang} clip "${id}"`);
      return w;
    })
    .join(' ');
}

/** The spoken text of a clip sequence (sounds are not words). */
export function clipsText(clips: readonly ClipRef[]): string {
  return clips
    .filter((c): c is { lang: Lang; id: string } => c.lang !== 'sound')
    .map((c) => wordsOf(c.lang, [c.id]))
    .join(' ');
}

// ----- Tickets and inquiry numbers ------------------------------------------

export interface ParsedTicket {
  /** Zero to three capital letters ("" for a number-only ticket). */
  prefix: string;
  /** The digits as printed, padding included ("042"). */
  digits: string;
  /** Their value (42). */
  n: number;
}

/** "A042" → { prefix: 'A', digits: '042', n: 42 }; a clear error for anything else. */
export function parseTicket(t: string): ParsedTicket {
  const bad = [...t].findIndex((ch) => !/[A-Z0-9]/.test(ch));
  if (bad >= 0) throw new VoiceWordsError(`ticket "${t}": "${[...t][bad]!}" at position ${bad + 1} cannot be read; a ticket is 0–3 capital Latin letters then 1–5 digits, e.g. "A042"`);
  const m = /^([A-Z]{0,3})(\d{1,5})$/.exec(t);
  if (!m) throw new VoiceWordsError(`ticket "${t}" is not 0–3 capital Latin letters then 1–5 digits, e.g. "A042"`);
  return { prefix: m[1]!, digits: m[2]!, n: Number(m[2]) };
}

/** Digits read one by one. */
function digitByDigit(lang: Lang, digits: string): string[] {
  return [...digits].flatMap((d) => numberClips(lang, Number(d)));
}

/** A ticket's clip ids: letter names, then the value; a value above 9999 (a configuration may allow up to 99999) is read digit by digit. */
export function ticketClips(lang: Lang, t: string): string[] {
  const { prefix, digits, n } = parseTicket(t);
  const letters = [...prefix].map(letterClip);
  return [...letters, ...(n <= 9999 ? numberClips(lang, n) : digitByDigit(lang, digits))];
}

/**
 * Splits a run of digits for grouped reading, left to right, never leaving
 * a lone digit at the end of a longer run: "902" after "90" would be heard
 * as "ninety-two" in English, so pairs end in a triple when the run is odd,
 * and triples end in two pairs when one digit is left over.
 */
export function groupDigits(run: string, reading: InquiryReading): string[] {
  if (reading === 'digits' || run.length <= 1) return [...run];
  const size = reading === 'pairs' ? 2 : 3;
  const groups: string[] = [];
  let i = 0;
  const left = run.length % size;
  const tail = reading === 'pairs' ? (left === 1 ? [3] : [2]) : left === 1 ? [2, 2] : left === 2 ? [2] : [3];
  const tailLen = tail.reduce((a, b) => a + b, 0);
  while (run.length - i > tailLen) {
    groups.push(run.slice(i, i + size));
    i += size;
  }
  for (const len of tail) {
    groups.push(run.slice(i, i + len));
    i += len;
  }
  return groups;
}

/** A group of digits read as a number, each leading zero spoken as "zero" so no printed digit is lost ("07" = zero seven). */
function groupClips(lang: Lang, group: string): string[] {
  const rest = group.replace(/^0+/, '');
  const lead = group.slice(0, group.length - rest.length);
  return [...digitByDigit(lang, lead), ...(rest ? numberClips(lang, Number(rest)) : [])];
}

/**
 * An inquiry number's clip ids: letters by name, each run of digits read
 * by `reading`; "-" is shown on the board but not spoken (a run ends
 * there and grouping starts again after it).
 */
export function inquiryClips(lang: Lang, inquiry: string, reading: InquiryReading): string[] {
  if (inquiry.length === 0) throw new VoiceWordsError('an inquiry number cannot be empty');
  const bad = [...inquiry].findIndex((ch) => !/[A-Za-z0-9-]/.test(ch));
  if (bad >= 0) throw new VoiceWordsError(`inquiry number "${inquiry}": "${[...inquiry][bad]!}" at position ${bad + 1} cannot be read; inquiry numbers are letters, digits and "-"`);
  const tokens = inquiry.toUpperCase().match(/[0-9]+|[A-Z]/g) ?? [];
  if (tokens.length === 0) throw new VoiceWordsError(`inquiry number "${inquiry}" has no letter or digit to read`);
  return tokens.flatMap((tok) => (/^[A-Z]$/.test(tok) ? [letterClip(tok)] : groupDigits(tok, reading).flatMap((g) => groupClips(lang, g))));
}

// ----- Calls ------------------------------------------------------------------

function callIn(lang: Lang, spec: CallSpec, full: boolean): ClipRef[] {
  const ids: string[] = [];
  if (spec.inquiry) ids.push('inquiry.number', ...inquiryClips(lang, spec.t, spec.inquiryReading ?? 'digits'));
  else ids.push(full ? (lang === 'ar' ? 'citizen.number' : 'number') : 'number', ...ticketClips(lang, spec.t));
  ids.push(full ? 'go.to.window' : 'window', ...numberClips(lang, spec.w));
  return ids.map((id) => ({ lang, id }));
}

/**
 * The clips of one call: [chime] number-phrase ticket window-phrase window.
 * Full form (chime, default): ar "المواطن رقم … يرجى التوجه إلى الشباك رقم …",
 * en "number … please go to window …". Shortened (chime: false): ar "رقم … شباك …",
 * en "number … window …". `both`: Arabic first, then English, one chime.
 */
export function composeCall(spec: CallSpec): ComposedCall {
  if (!Number.isInteger(spec.w) || spec.w < 1 || spec.w > 9999) throw new VoiceWordsError(`window ${String(spec.w)} cannot be called: windows are numbered 1 and up`);
  const full = spec.chime !== false;
  const langs: Lang[] = spec.lang === 'both' ? ['ar', 'en'] : [spec.lang];
  const clips: ClipRef[] = [...(full ? [{ lang: 'sound' as const, id: 'chime' }] : []), ...langs.flatMap((l) => callIn(l, spec, full))];
  return { clips, text: clipsText(clips) };
}
