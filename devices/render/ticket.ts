/**
 * The printed queue ticket, drawn as one 1-bit image.
 *
 * Thermal printers' code pages have no Arabic shaping (no joining forms, no
 * lam-alef ligature, no right-to-left), so the ticket is laid out and
 * shaped here with Skia (@napi-rs/canvas) and the bundled Noto fonts, then
 * sent as a raster image (drivers/escpos.ts).
 *
 * Output is deterministic: black on white, then a fixed threshold with no
 * dithering, so the same view always gives the same bits (tests compare
 * against a golden image).
 *
 * Digits: the big ticket number, the date and the time use Western digits
 * (A042, 09:41): that is how the number appears on the hall board and the
 * window displays and how staff call it, so the citizen matches it by eye.
 * The Arabic sentences (how many are ahead, the wait) use Arabic-Indic
 * digits (أمامك ٧), as Arabic text is written in the centers' region, and the
 * English line under each carries the same figure in Western digits.
 */
import { createCanvas, GlobalFonts, ImageData, type SKRSContext2D } from '@napi-rs/canvas';
import type { TicketView } from '../../contract/devices.js';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compactRaster, cut, feed, init, rowBytes, type Bitmap } from '../../drivers/escpos.js';

/** What the hub sends a dispenser for a new ticket (daemon/devices/views.ts ticketView). */
export type { TicketView };

/** Which languages to print; names without an English form stay Arabic. */
export type TicketLang = 'both' | 'ar' | 'en';

export interface TicketOptions {
  /** Printable width in dots: 576 for 80 mm paper at 203 dpi, 384 for 58 mm. */
  widthDots?: number;
  lang?: TicketLang;
}

export interface RenderedTicket {
  /** The 1-bit image as PNG, exactly the dots that get printed. */
  png: Buffer;
  bitmap: Bitmap;
}

/** Feed after the image: a little white below the last line before the cut. */
const FEED_LINES = 2;

/**
 * A pixel darker than this (0–255 luminance) becomes a burnt dot. A bit
 * above half way: a stem that covers ~40 % of each of two pixels still gets
 * one dot instead of vanishing, while the letter shapes stay open.
 */
const THRESHOLD = 160;

/** Smallest text drawn, in dots (≈ 2 mm cap height at 203 dpi). */
const MIN_TEXT_PX = { ar: 19, latin: 17 } as const;
/** Below this size text is drawn bold so no stroke is thinner than a dot. */
const BOLD_BELOW_PX = 21;

const AR = 'QhubTicketArabic';
const LATIN = 'QhubTicketLatin';

let fontsReady = false;

/**
 * Finds `assets/fonts` by walking up from this file: the sources sit at
 * devices/render/ and the compiled files at dist/devices/render/, while
 * the fonts stay at <repo>/assets/fonts in both cases.
 */
function fontDir(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'assets', 'fonts');
    if (existsSync(join(candidate, 'NotoSansArabic-Regular.ttf'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`ticket: no assets/fonts with the Noto fonts above ${start}`);
  }
}

/**
 * Registers the bundled fonts under our own family names, once. Private
 * names keep a system font of the same name (a Pi image may ship another
 * Noto build) from being picked instead, which would change the bits.
 */
function ensureFonts(): void {
  if (fontsReady) return;
  const dir = fontDir();
  const files: [string, string][] = [
    ['NotoSansArabic-Regular.ttf', AR],
    ['NotoSansArabic-Bold.ttf', AR],
    ['NotoSans-Regular.ttf', LATIN],
    ['NotoSans-Bold.ttf', LATIN],
  ];
  // Registering twice (tests reloading the module) would add duplicate faces.
  const has = (family: string, weight: number): boolean =>
    GlobalFonts.families.some((f) => f.family === family && f.styles.some((s) => s.weight === weight));
  for (const [file, family] of files) {
    const weight = file.includes('Bold') ? 700 : 400;
    if (has(family, weight)) continue;
    if (!GlobalFonts.registerFromPath(join(dir, file), family)) throw new Error(`ticket: could not load font ${join(dir, file)}`);
  }
  fontsReady = true;
}

/** 0–9 as Arabic-Indic digits (٠–٩), for numbers inside Arabic sentences. */
export function arabicDigits(n: number | string): string {
  return String(n).replace(/[0-9]/g, (d) => String.fromCharCode(0x0660 + Number(d)));
}

/** "N minutes" in Arabic with the number agreement Arabic requires. */
function minutesAr(n: number): string {
  if (n <= 0) return 'أقل من دقيقة';
  if (n === 1) return 'دقيقة واحدة';
  if (n === 2) return 'دقيقتان';
  if (n <= 10) return `${arabicDigits(n)} دقائق`;
  return `${arabicDigits(n)} دقيقة`;
}

/** Wording for the priority kinds the config uses; others print just "priority". */
const PRIORITY_NAMES: Record<string, { ar: string; en: string }> = {
  elderly: { ar: 'كبار السن', en: 'Senior citizen' },
  disabled: { ar: 'ذوو الهمم', en: 'Accessibility' },
  pregnant: { ar: 'الحوامل', en: 'Expectant mother' },
};

type Script = 'ar' | 'latin';

/** One element of the ticket, top to bottom. Sizes are at 576 dots. */
type Block =
  | { kind: 'text'; text: string; script: Script; size: number; bold: boolean }
  | { kind: 'number'; text: string }
  | { kind: 'banner'; lines: { text: string; script: Script; size: number }[] }
  | { kind: 'rule' }
  | { kind: 'gap'; h: number };

/** A block with everything measured, ready to draw. */
interface Placed {
  block: Block;
  height: number;
  draw(g: SKRSContext2D, top: number): void;
}

function font(script: Script, size: number, bold: boolean): string {
  // The script's own face first; the other covers stray characters (a
  // Latin "A042" inside an Arabic sentence, or the reverse).
  const families = script === 'ar' ? `${AR}, ${LATIN}` : `${LATIN}, ${AR}`;
  return `${bold ? 'bold ' : ''}${size}px ${families}`;
}

/**
 * Fixed line boxes per script instead of the fonts' own metrics: Noto Sans
 * Arabic declares a very tall box (for stacked marks) that would spread the
 * lines apart, and measuring each line's ink would make the spacing depend
 * on the words. Arabic needs more room below the baseline than Latin.
 */
const LINE = { ar: { height: 1.55, ascent: 1.05 }, latin: { height: 1.3, ascent: 1.0 } } as const;

/** Shrinks or wraps `text` to fit `maxW`: one line if it fits at ≥ 80 %, else word wrap. */
function fit(g: SKRSContext2D, text: string, script: Script, size: number, bold: boolean, maxW: number): { lines: string[]; size: number } {
  const width = (s: string, sz: number): number => {
    g.font = font(script, sz, bold);
    return g.measureText(s).width;
  };
  const shrinkToFit = (lines: string[], sz: number): number => {
    while (sz > 8 && Math.max(...lines.map((l) => width(l, sz))) > maxW) sz -= 1;
    return sz;
  };
  const w = width(text, size);
  if (w <= maxW) return { lines: [text], size };
  const scaled = Math.floor((size * maxW) / w);
  if (scaled >= size * 0.8) return { lines: [text], size: shrinkToFit([text], scaled) };
  // Greedy wrap in logical order: for Arabic the first words land on the
  // first line, and each line is drawn right-to-left on its own.
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (line && width(next, size) > maxW) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return { lines, size: shrinkToFit(lines, size) };
}

/** The ticket's content, in print order. */
function blocks(view: TicketView, lang: TicketLang): Block[] {
  const ar = lang !== 'en';
  const en = lang !== 'ar';
  const out: Block[] = [];
  const pair = (arText: string, enText: string | undefined, arSize: number, enSize: number, arBold: boolean, enBold = false): void => {
    // An Arabic-only name is printed in Arabic even on an English-only ticket.
    if (ar || !enText) out.push({ kind: 'text', text: arText, script: 'ar', size: arSize, bold: arBold });
    if (en && enText) out.push({ kind: 'text', text: enText, script: 'latin', size: enSize, bold: enBold });
  };
  const gap = (h: number): void => {
    out.push({ kind: 'gap', h });
  };

  gap(6);
  pair(view.center.ar, view.center.en, 28, 21, true);
  gap(8);
  out.push({ kind: 'rule' });
  gap(10);
  pair(view.name.ar, view.name.en, 44, 28, true, true);
  gap(18);
  out.push({ kind: 'number', text: view.t });
  gap(16);
  if (view.priority !== undefined) {
    const p = PRIORITY_NAMES[view.priority];
    const lines: { text: string; script: Script; size: number }[] = [];
    if (ar) lines.push({ text: p ? `أولوية – ${p.ar}` : 'أولوية', script: 'ar', size: 30 });
    if (en) lines.push({ text: p ? `Priority – ${p.en}` : 'Priority', script: 'latin', size: 24 });
    out.push({ kind: 'banner', lines });
    gap(12);
  }
  out.push({ kind: 'text', text: `${view.date}   ${view.time}`, script: 'latin', size: 26, bold: false });
  gap(10);
  out.push({ kind: 'rule' });
  gap(10);
  const n = Math.max(0, Math.round(view.ahead));
  pair(n === 0 ? 'لا أحد أمامك' : `أمامك ${arabicDigits(n)}`, n === 0 ? 'You are next' : `${n} ahead of you`, 36, 26, true, true);
  gap(6);
  const m = Math.max(0, Math.round(view.waitMin));
  pair(`الانتظار المتوقع: ${minutesAr(m)}`, `Expected wait: ${m <= 0 ? 'under 1 min' : `about ${m} min`}`, 28, 22, false);
  gap(10);
  out.push({ kind: 'rule' });
  gap(8);
  pair('يرجى الانتظار حتى يظهر رقمك على الشاشة', 'Please wait until your number is shown', 22, 18, false);
  gap(10);
  return out;
}

/** Measures every block and returns how to draw it. */
function place(g: SKRSContext2D, list: Block[], width: number): Placed[] {
  const k = width / 576;
  const px = (v: number): number => Math.max(1, Math.round(v * k));
  const margin = px(14);
  const maxW = width - 2 * margin;
  const cx = width / 2;

  const textLines = (text: string, script: Script, size: number, boldWanted: boolean, maxWidth: number) => {
    // On 58 mm paper the scaled sizes get small enough that regular strokes
    // are about one dot wide and partly covered, so they fall under the
    // threshold and letters lose stems and dots; small text is kept at a
    // readable floor and drawn bold.
    const sized = Math.max(px(size), MIN_TEXT_PX[script]);
    const bold = boldWanted || sized < BOLD_BELOW_PX;
    const f = fit(g, text, script, sized, bold, maxWidth);
    const m = LINE[script];
    const lineH = Math.round(f.size * m.height);
    return {
      height: lineH * f.lines.length,
      draw(gg: SKRSContext2D, top: number, color: string): void {
        gg.font = font(script, f.size, bold);
        gg.fillStyle = color;
        gg.textAlign = 'center';
        gg.textBaseline = 'alphabetic';
        gg.direction = script === 'ar' ? 'rtl' : 'ltr';
        f.lines.forEach((l, i) => gg.fillText(l, cx, top + i * lineH + Math.round(f.size * m.ascent)));
      },
    };
  };

  return list.map((block): Placed => {
    switch (block.kind) {
      case 'gap':
        return { block, height: px(block.h), draw: () => {} };
      case 'rule': {
        const h = px(3);
        return {
          block,
          height: h,
          draw(gg, top) {
            gg.fillStyle = '#000';
            gg.fillRect(margin, top, width - 2 * margin, h);
          },
        };
      }
      case 'text': {
        const t = textLines(block.text, block.script, block.size, block.bold, maxW);
        return { block, height: t.height, draw: (gg, top) => t.draw(gg, top, '#000') };
      }
      case 'number': {
        // As large as the paper allows, capped so a short number does not
        // eat half a metre of paper; longer numbers shrink to stay on one line.
        let size = px(210);
        g.font = font('latin', size, true);
        while (size > 20 && g.measureText(block.text).width > maxW) {
          size -= 2;
          g.font = font('latin', size, true);
        }
        // Height from the ink of capitals and digits (not the font box), so
        // the number sits tight between the lines around it.
        const cap = Math.ceil(size * 0.73);
        return {
          block,
          height: cap + px(4),
          draw(gg, top) {
            gg.font = font('latin', size, true);
            gg.fillStyle = '#000';
            gg.textAlign = 'center';
            gg.textBaseline = 'alphabetic';
            gg.direction = 'ltr';
            gg.fillText(block.text, cx, top + cap);
          },
        };
      }
      case 'banner': {
        // White on black: noticed at once by the citizen and by the clerk
        // who has to serve the ticket first.
        const pad = px(8);
        const inner = block.lines.map((l) => textLines(l.text, l.script, l.size, true, maxW - 2 * pad));
        const h = inner.reduce((a, l) => a + l.height, 0) + 2 * pad;
        return {
          block,
          height: h,
          draw(gg, top) {
            gg.fillStyle = '#000';
            gg.fillRect(margin, top, width - 2 * margin, h);
            let y = top + pad;
            for (const l of inner) {
              l.draw(gg, y, '#fff');
              y += l.height;
            }
          },
        };
      }
    }
  });
}

/** Packs RGBA pixels into printer bits at the fixed threshold. */
function threshold(rgba: Uint8ClampedArray, width: number, height: number): Bitmap {
  const bpr = rowBytes(width);
  const data = Buffer.alloc(bpr * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      // Integer luminance (BT.601): the page is grey only at glyph edges.
      const lum = ((rgba[i] ?? 255) * 299 + (rgba[i + 1] ?? 255) * 587 + (rgba[i + 2] ?? 255) * 114) / 1000;
      if (lum < THRESHOLD) data[y * bpr + (x >> 3)]! |= 0x80 >> (x & 7);
    }
  }
  return { width, height, data };
}

/** A 1-bit bitmap as a black-and-white PNG (for print-test and golden files). */
export function bitmapToPng(bitmap: Bitmap): Buffer {
  const { width, height, data } = bitmap;
  const bpr = rowBytes(width);
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const black = ((data[y * bpr + (x >> 3)] ?? 0) >> (7 - (x & 7))) & 1;
      const i = (y * width + x) * 4;
      const v = black ? 0 : 255;
      rgba[i] = v;
      rgba[i + 1] = v;
      rgba[i + 2] = v;
      rgba[i + 3] = 255;
    }
  }
  const c = createCanvas(width, height);
  c.getContext('2d').putImageData(new ImageData(rgba, width, height), 0, 0);
  return c.encodeSync('png');
}

/** Draws the ticket and returns its printable 1-bit image (and that image as PNG). */
export function renderTicket(view: TicketView, opts: TicketOptions = {}): RenderedTicket {
  ensureFonts();
  const width = opts.widthDots ?? 576;
  if (!Number.isInteger(width) || width < 160 || width > 2048) throw new RangeError(`renderTicket: widthDots ${width} is not a printer width`);
  const measure = createCanvas(width, 16).getContext('2d');
  const placed = place(measure, blocks(view, opts.lang ?? 'both'), width);
  const height = placed.reduce((a, p) => a + p.height, 0);

  const canvas = createCanvas(width, height);
  const g = canvas.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, width, height);
  let top = 0;
  for (const p of placed) {
    p.draw(g, top);
    top += p.height;
  }
  const bitmap = threshold(g.getImageData(0, 0, width, height).data as Uint8ClampedArray, width, height);
  return { png: bitmapToPng(bitmap), bitmap };
}

/** The print job for an already rendered ticket: reset, image, a short feed, partial cut. */
export function ticketJob(bitmap: Bitmap): Buffer {
  return Buffer.concat([init(), compactRaster(bitmap), feed(FEED_LINES), cut()]);
}

/** The whole print job for one ticket. */
export function ticketBytes(view: TicketView, opts: TicketOptions = {}): Buffer {
  return ticketJob(renderTicket(view, opts).bitmap);
}
