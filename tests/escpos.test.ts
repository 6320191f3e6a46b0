import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import { SerialPortMock } from 'serialport';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PtyPair } from './helpers/pty.js';
import { EscPosPrinter, cut, feed, init, parsePaperStatus, raster, statusRequest, type Bitmap } from '../drivers/escpos.js';
import { SerialLine } from '../drivers/serial/line.js';
import type { ByteLink } from '../drivers/serial/types.js';
import { SAMPLE_TICKET, writePrintTest } from '../devices/render/print-test.js';
import { renderTicket, ticketBytes, type TicketView } from '../devices/render/ticket.js';
import { EscPosPrinterEmulator, parseEscPos, ticketsFrom } from './emulators/escpos-printer.js';

const hex = (b: Buffer): string => b.toString('hex').replace(/(..)/g, '$1 ').trim();

const until = async (f: () => boolean, ms = 5000): Promise<void> => {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** Pixel (x, y) of a 1-bit bitmap: 1 = black. */
const px = (b: Bitmap, x: number, y: number): number => ((b.data[y * Math.ceil(b.width / 8) + (x >> 3)] ?? 0) >> (7 - (x & 7))) & 1;

/** Runs of rows that have ink, separated by blank rows: the ticket's lines, top to bottom. */
function inkBands(b: Bitmap): { top: number; bottom: number; height: number }[] {
  const bpr = Math.ceil(b.width / 8);
  const bands: { top: number; bottom: number; height: number }[] = [];
  let start = -1;
  for (let y = 0; y <= b.height; y++) {
    const ink = y < b.height && b.data.subarray(y * bpr, (y + 1) * bpr).some((v) => v !== 0);
    if (ink && start < 0) start = y;
    if (!ink && start >= 0) {
      bands.push({ top: start, bottom: y, height: y - start });
      start = -1;
    }
  }
  return bands;
}

/** Rows (top..bottom) in which two same-sized bitmaps differ. */
function differingRows(a: Bitmap, b: Bitmap): number[] {
  const bpr = Math.ceil(a.width / 8);
  const rows: number[] = [];
  for (let y = 0; y < a.height; y++) if (!a.data.subarray(y * bpr, (y + 1) * bpr).equals(b.data.subarray(y * bpr, (y + 1) * bpr))) rows.push(y);
  return rows;
}

const blackCount = (b: Bitmap, top = 0, bottom = b.height): number => {
  let n = 0;
  for (let y = top; y < bottom; y++) for (let x = 0; x < b.width; x++) n += px(b, x, y);
  return n;
};

/** Decodes a black-and-white PNG back into printer bits. */
async function bitmapFromPng(png: Buffer): Promise<Bitmap> {
  const img = await loadImage(png);
  const c = createCanvas(img.width, img.height);
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0);
  const rgba = g.getImageData(0, 0, img.width, img.height).data;
  const bpr = Math.ceil(img.width / 8);
  const data = Buffer.alloc(bpr * img.height);
  for (let y = 0; y < img.height; y++)
    for (let x = 0; x < img.width; x++) if ((rgba[(y * img.width + x) * 4] ?? 255) < 128) data[y * bpr + (x >> 3)]! |= 0x80 >> (x & 7);
  return { width: img.width, height: img.height, data };
}

describe('ESC/POS bytes, checked by hand against the command reference', () => {
  it('ESC @, ESC d, GS V 66 0 and DLE EOT 4 are the documented bytes', () => {
    expect(hex(init())).toBe('1b 40');
    expect(hex(feed(3))).toBe('1b 64 03');
    expect(hex(feed(300))).toBe('1b 64 ff 1b 64 2d');
    expect(hex(cut())).toBe('1d 56 42 00');
    expect(hex(cut({ full: true }))).toBe('1d 56 41 00');
    expect(hex(statusRequest(4))).toBe('10 04 04');
  });

  it('GS v 0 for a 16x2 image: mode 0, 2 bytes a row, 2 rows, then the rows as given', () => {
    const bmp: Bitmap = { width: 16, height: 2, data: Buffer.from([0xf0, 0x0f, 0x81, 0x18]) };
    expect(hex(raster(bmp))).toBe('1d 76 30 00 02 00 02 00 f0 0f 81 18');
  });

  it('a width that is not a multiple of 8 is sent as whole bytes per row', () => {
    const bmp: Bitmap = { width: 10, height: 1, data: Buffer.from([0xff, 0xc0]) };
    expect(hex(raster(bmp))).toBe('1d 76 30 00 02 00 01 00 ff c0');
  });

  it('a tall image goes out in bands of at most 255 rows that together hold every row once', () => {
    const rows = 600;
    const data = Buffer.alloc(72 * rows);
    for (let y = 0; y < rows; y++) data.fill(y & 0xff, y * 72, (y + 1) * 72);
    const out = raster({ width: 576, height: rows, data });
    const heads: string[] = [];
    let i = 0;
    const body: Buffer[] = [];
    while (i < out.length) {
      const h = out.subarray(i, i + 8);
      heads.push(hex(h));
      const n = (h[4]! + h[5]! * 256) * (h[6]! + h[7]! * 256);
      body.push(out.subarray(i + 8, i + 8 + n));
      i += 8 + n;
    }
    expect(heads).toEqual(['1d 76 30 00 48 00 ff 00', '1d 76 30 00 48 00 ff 00', '1d 76 30 00 48 00 5a 00']);
    expect(Buffer.concat(body).equals(data)).toBe(true);
  });

  it('refuses an image whose data does not match its size instead of printing garbage', () => {
    expect(() => raster({ width: 16, height: 2, data: Buffer.alloc(3) })).toThrow(/needs 4 bytes/);
  });

  it('reads the paper sensor byte and rejects bytes without the fixed status frame', () => {
    expect(parsePaperStatus(0x12)).toBe('ok');
    expect(parsePaperStatus(0x1e)).toBe('low');
    expect(parsePaperStatus(0x72)).toBe('out');
    expect(parsePaperStatus(0x7e)).toBe('out'); // end and near-end together, as a real empty roll reports
    for (const garbage of [0x00, 0xff, 0x13, 0x92, 0x10, 0x02, 0x0a, 0x1b, 256, -1]) expect(parsePaperStatus(garbage), `0x${garbage.toString(16)}`).toBeUndefined();
  });
});

describe('the rendered ticket', () => {
  const goldenPath = fileURLToPath(new URL('./golden/ticket-A042.png', import.meta.url));
  const actualPath = goldenPath.replace(/\.png$/, '.actual.png');

  it('matches the golden image pixel for pixel (UPDATE_GOLDEN=1 rewrites it)', async () => {
    const { png, bitmap } = renderTicket(SAMPLE_TICKET);
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(goldenPath, png);
    expect(existsSync(goldenPath), `${goldenPath} is missing; run with UPDATE_GOLDEN=1 once and look at it`).toBe(true);
    const golden = await bitmapFromPng(readFileSync(goldenPath));
    let differ = 0;
    if (golden.width === bitmap.width && golden.height === bitmap.height) {
      for (let y = 0; y < bitmap.height; y++) for (let x = 0; x < bitmap.width; x++) differ += px(golden, x, y) ^ px(bitmap, x, y);
    }
    const sameSize = golden.width === bitmap.width && golden.height === bitmap.height;
    if (!sameSize || differ > 0) {
      writeFileSync(actualPath, png);
      const what = sameSize ? `${differ} pixels differ` : `size ${bitmap.width}x${bitmap.height} instead of ${golden.width}x${golden.height}`;
      expect.fail(`ticket differs from ${goldenPath}: ${what}; the new rendering is in ${actualPath}`);
    }
    rmSync(actualPath, { force: true });
  });

  it('is 576 dots wide on 80 mm paper and 384 on 58 mm, and the same input gives the same bits', () => {
    const a = renderTicket(SAMPLE_TICKET).bitmap;
    const b = renderTicket(SAMPLE_TICKET).bitmap;
    expect(a.width).toBe(576);
    expect(a.data.equals(b.data)).toBe(true);
    const narrow = renderTicket(SAMPLE_TICKET, { widthDots: 384 }).bitmap;
    expect(narrow.width).toBe(384);
    expect(narrow.data.length).toBe(48 * narrow.height);
  });

  it('the number is the dominant element: at least 3x the ink height of the text lines, on both paper widths', () => {
    for (const widthDots of [576, 384]) {
      const b = renderTicket(SAMPLE_TICKET, { widthDots }).bitmap;
      const bands = inkBands(b).filter((x) => x.height > 6); // the thin rules are not text
      const heights = bands.map((x) => x.height).sort((p, q) => p - q);
      const tallest = heights.at(-1)!;
      const median = heights[Math.floor(heights.length / 2)]!;
      expect(tallest, `${widthDots}: bands ${heights.join(',')}`).toBeGreaterThanOrEqual(3 * median);
      // ... and it is where the number is: another number changes only that band.
      const other = renderTicket({ ...SAMPLE_TICKET, t: 'A043' }, { widthDots }).bitmap;
      const rows = differingRows(b, other);
      const band = bands.find((x) => x.height === tallest)!;
      expect(rows.length).toBeGreaterThan(0);
      expect(rows[0]!).toBeGreaterThanOrEqual(band.top);
      expect(rows.at(-1)!).toBeLessThan(band.bottom);
    }
  });

  it('draws the Arabic service name in its place, with joined letters', () => {
    const full = renderTicket(SAMPLE_TICKET).bitmap;
    const noAr = renderTicket({ ...SAMPLE_TICKET, name: { ar: '', en: 'Request intake' } }).bitmap;
    expect(noAr.height).toBe(full.height); // the line keeps its room, so only that line changes
    const rows = differingRows(full, noAr);
    expect(rows.length).toBeGreaterThan(20);
    expect(blackCount(full, rows[0]!, rows.at(-1)! + 1)).toBeGreaterThan(1500);
    expect(blackCount(noAr, rows[0]!, rows.at(-1)! + 1)).toBe(0);
    // Shaping: with zero-width non-joiners between the letters they must
    // take their isolated forms. Without a shaper both would look alike.
    const joined = renderTicket({ ...SAMPLE_TICKET, name: { ar: 'استلام', en: 'Request intake' } }).bitmap;
    const isolated = renderTicket({ ...SAMPLE_TICKET, name: { ar: [...'استلام'].join('\u200c'), en: 'Request intake' } }).bitmap;
    expect(differingRows(joined, isolated).length).toBeGreaterThan(10);
  });

  it('prints how many are ahead in both languages: another count changes the Arabic and the English line', () => {
    const seven = renderTicket(SAMPLE_TICKET).bitmap;
    const eight = renderTicket({ ...SAMPLE_TICKET, ahead: 8 }).bitmap;
    const bands = inkBands(seven);
    const rows = differingRows(seven, eight);
    const touched = bands.filter((b) => rows.some((y) => y >= b.top && y < b.bottom));
    expect(touched).toHaveLength(2);
    // Both sit below the number (the tallest band).
    const numberBand = bands.reduce((a, b) => (b.height > a.height ? b : a));
    for (const b of touched) expect(b.top).toBeGreaterThan(numberBand.bottom);
  });

  it('a service without an English name prints Arabic only; a priority ticket carries a black banner', () => {
    const base = renderTicket(SAMPLE_TICKET).bitmap;
    const arOnly = renderTicket({ ...SAMPLE_TICKET, name: { ar: 'استلام الطلبات' } }).bitmap;
    expect(arOnly.height).toBeLessThan(base.height);
    const prio = renderTicket({ ...SAMPLE_TICKET, priority: 'elderly' }).bitmap;
    expect(prio.height).toBeGreaterThan(base.height);
    // A banner is a mostly black band: white text on a filled bar.
    const banner = inkBands(prio).find((b) => b.height > 30 && blackCount(prio, b.top, b.bottom) > 0.6 * prio.width * b.height);
    expect(banner).toBeDefined();
  });

  it('lang prints one language only, with the same big number', () => {
    const both = renderTicket(SAMPLE_TICKET).bitmap;
    const tallest = (b: Bitmap): number => Math.max(...inkBands(b).map((x) => x.height));
    for (const lang of ['ar', 'en'] as const) {
      const one = renderTicket(SAMPLE_TICKET, { lang }).bitmap;
      expect(one.height, lang).toBeLessThan(both.height - 100);
      expect(tallest(one), lang).toBe(tallest(both));
    }
    // An English-only ticket still names the service when it has only an Arabic name.
    const enNoName = renderTicket({ ...SAMPLE_TICKET, name: { ar: 'استلام الطلبات' } }, { lang: 'en' }).bitmap;
    const enNoService = renderTicket({ ...SAMPLE_TICKET, name: { ar: '' } }, { lang: 'en' }).bitmap;
    expect(blackCount(enNoName)).toBeGreaterThan(blackCount(enNoService) + 1500);
  });

  it('ticketBytes is init, the image, a feed and a partial cut; the emulator parses back the exact image', () => {
    const { bitmap } = renderTicket(SAMPLE_TICKET);
    const bytes = ticketBytes(SAMPLE_TICKET);
    const events = parseEscPos(bytes);
    expect(events[0]).toEqual({ type: 'init' });
    expect(events.at(-1)).toEqual({ type: 'cut', partial: true });
    expect(events.filter((e) => e.type === 'unknown')).toEqual([]);
    const [ticket, ...rest] = ticketsFrom(events, 576);
    expect(rest).toEqual([]);
    expect(ticket!.cut).toBe(true);
    expect(ticket!.feedLines).toBeGreaterThan(0);
    expect(ticket!.bitmap.width).toBe(bitmap.width);
    expect(ticket!.bitmap.height).toBe(bitmap.height);
    expect(ticket!.bitmap.data.equals(bitmap.data)).toBe(true);
    // Blank rows and the white right of the ink are not sent: far fewer bytes than the full raster (9600 baud: ~1 s per kB).
    expect(bytes.length).toBeLessThan(raster(bitmap).length * 0.6);
  });

  it('print-test writes the PNG and the exact printer bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qhub-print-test-'));
    try {
      const out = writePrintTest(join(dir, 'sub'));
      expect(readFileSync(out.bin).equals(ticketBytes(SAMPLE_TICKET))).toBe(true);
      const fromPng = await bitmapFromPng(readFileSync(out.png));
      expect(fromPng.data.equals(renderTicket(SAMPLE_TICKET).bitmap.data)).toBe(true);
      expect(statSync(out.png).size).toBeGreaterThan(1000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The smallest ByteLink over a serialport stream, for the mock binding (no reconnects needed). */
function portLink(port: SerialPortMock): ByteLink {
  return {
    get isOpen() {
      return port.isOpen;
    },
    write: (data) => new Promise<void>((resolve, reject) => port.write(data, (e) => (e ? reject(e) : port.drain((d) => (d ? reject(d) : resolve()))))),
    onData(fn) {
      port.on('data', fn);
      return () => port.off('data', fn);
    },
    onState(fn) {
      const open = (): void => fn(true);
      const close = (): void => fn(false);
      port.on('open', open);
      port.on('close', close);
      return () => {
        port.off('open', open);
        port.off('close', close);
      };
    },
  };
}

describe('EscPosPrinter on a mock serial port', () => {
  // The binding SerialPortMock really uses: under vitest an import of
  // @serialport/binding-mock can load a second copy with its own ports.
  const MockBinding = SerialPortMock.binding;
  let port: SerialPortMock;
  const recording = (): Buffer => port.port?.recording ?? Buffer.alloc(0);

  const openMock = async (): Promise<EscPosPrinter> => {
    MockBinding.createPort('/dev/mock-printer', { echo: false, record: true });
    port = new SerialPortMock({ path: '/dev/mock-printer', baudRate: 115200 });
    await new Promise<void>((r) => port.once('open', () => r()));
    return new EscPosPrinter(portLink(port));
  };

  afterEach(async () => {
    if (port?.isOpen) await new Promise<void>((r) => port.close(() => r()));
    MockBinding.reset();
  });

  it('asks with DLE EOT 4 and reports paper low from the answer', async () => {
    const p = await openMock();
    const answer = p.paper();
    await until(() => recording().length >= 3);
    expect(hex(recording())).toBe('10 04 04');
    port.port!.emitData(Buffer.from([0x1e]));
    expect(await answer).toBe('low');
  });

  it('skips bytes that are not a status answer and takes the real one', async () => {
    const p = await openMock();
    const answer = p.paper();
    await until(() => recording().length >= 3);
    port.port!.emitData(Buffer.from([0x00, 0xff, 0x0a, 0x72]));
    expect(await answer).toBe('out');
  });

  it('no answer: undefined after the timeout, not before', async () => {
    const p = await openMock();
    const t0 = Date.now();
    expect(await p.paper(150)).toBeUndefined();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('only one request is outstanding: callers meanwhile share its answer; the next call asks again', async () => {
    const p = await openMock();
    const a = p.paper();
    const b = p.paper();
    await until(() => recording().length >= 3);
    await new Promise((r) => setTimeout(r, 30));
    expect(hex(recording())).toBe('10 04 04');
    port.port!.emitData(Buffer.from([0x12]));
    expect(await a).toBe('ok');
    expect(await b).toBe('ok');
    const c = p.paper();
    await until(() => recording().length >= 6);
    port.port!.emitData(Buffer.from([0x1e]));
    expect(await c).toBe('low');
    expect(hex(recording())).toBe('10 04 04 10 04 04');
  });

  it('a closed line answers undefined at once and sends nothing', async () => {
    const p = await openMock();
    await new Promise<void>((r) => port.close(() => r()));
    const t0 = Date.now();
    expect(await p.paper(2000)).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(100);
  });

  it('print sends the job byte for byte', async () => {
    const p = await openMock();
    const job = ticketBytes(SAMPLE_TICKET, { widthDots: 384 });
    await p.print(job);
    expect(recording().equals(job)).toBe(true);
  });
});

describe('printing over a real pty to the printer emulator', () => {
  const pty = new PtyPair();
  let emu: EscPosPrinterEmulator;
  let line: SerialLine;
  let printer: EscPosPrinter;

  beforeAll(async () => {
    await pty.plug();
    emu = await EscPosPrinterEmulator.open(pty.device);
    line = new SerialLine({ path: pty.hub, baudRate: 115200, backoffMs: { min: 20, max: 200 } });
    line.start();
    await until(() => line.isOpen);
    printer = new EscPosPrinter(line);
  });

  afterAll(async () => {
    await line?.stop();
    await emu?.close();
    await pty.unplug();
  });

  it('a printed ticket comes out as the same image, cut', async () => {
    const view: TicketView = { ...SAMPLE_TICKET, t: 'B007', ahead: 0, waitMin: 0, priority: 'elderly' };
    const { bitmap } = renderTicket(view);
    await printer.print(ticketBytes(view));
    const [ticket] = await emu.waitForCuts(1);
    expect(ticket!.cut).toBe(true);
    expect(ticket!.bitmap.width).toBe(bitmap.width);
    expect(ticket!.bitmap.height).toBe(bitmap.height);
    expect(ticket!.bitmap.data.equals(bitmap.data)).toBe(true);
  });

  it('reads the paper sensor as it changes: ok, low, out', async () => {
    // A generous timeout: the answer comes in milliseconds, and a busy test
    // machine must not turn a slow answer into "printer away".
    emu.setPaper('ok');
    expect(await printer.paper(2000)).toBe('ok');
    emu.setPaper('low');
    expect(await printer.paper(2000)).toBe('low');
    emu.setPaper('out');
    expect(await printer.paper(2000)).toBe('out');
  });

  it('a status request right behind a ticket is still answered', async () => {
    emu.setPaper('low');
    const job = printer.print(ticketBytes(SAMPLE_TICKET));
    const paper = printer.paper(2000);
    await job;
    expect(await paper).toBe('low');
    await emu.waitForCuts(2);
  });

  it('a printer that does not answer reads as undefined (off or away)', async () => {
    emu.silent(true);
    const t0 = Date.now();
    expect(await printer.paper(300)).toBeUndefined();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    emu.silent(false);
    emu.setPaper('ok');
    expect(await printer.paper(2000)).toBe('ok');
  });
});
