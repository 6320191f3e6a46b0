/**
 * The panel on a terminal: the alternate screen, redrawn at most a few times
 * a second when something changed (and every second for the clock and the
 * waits), the terminal given back as it was on stop, on `q` and on exit.
 *
 * What it is handed is narrow: `read(action)` asks the hub's command table
 * (the same answers `qhub status`, `queues`, `windows`, `devices` print), and
 * the simulated devices tell it what they show, say and print.
 */
import type { ReadStream, WriteStream } from 'node:tty';
import { renderPanel, type BoardShows, type PanelSnapshot, type PanelState } from './render.js';

export interface PanelOptions {
  out: WriteStream;
  input?: ReadStream;
  /** Asks the hub's command table (a read action); rejects when the hub does not answer. */
  read(action: 'status' | 'queues' | 'windows' | 'devices'): Promise<unknown>;
  title: string;
  timeZone?: string;
  hint: string;
  voice: string;
  /** The boards of the hall, in config order. */
  boards: string[];
  /** `q` or Ctrl-C pressed. */
  onQuit(): void;
  /** How often the hub is read again (ms). Default 1000. */
  readEveryMs?: number;
}

const ESC = '\x1b[';
const ENTER = `${ESC}?1049h${ESC}?25l`;
const LEAVE = `${ESC}?25h${ESC}?1049l`;
const LOG_LINES = 50;

export class TerminalPanel {
  private readonly state: PanelState;
  private timer?: NodeJS.Timeout;
  private drawTimer?: NodeJS.Timeout;
  private stopped = false;
  private reading = false;
  private readonly restore = () => {
    if (!this.stopped) this.o.out.write(LEAVE);
  };
  private readonly onKey = (b: Buffer) => {
    const k = b.toString('utf8');
    if (k === 'q' || k === 'Q' || k === '\x03') this.o.onQuit();
  };
  private readonly onResize = () => this.draw();

  constructor(private readonly o: PanelOptions) {
    this.state = { title: o.title, ...(o.timeZone ? { timeZone: o.timeZone } : {}), hint: o.hint, voice: o.voice, snapshot: {}, boards: new Map(o.boards.map((b) => [b, undefined])), said: new Map(), printed: [], log: [] };
  }

  start(): void {
    this.o.out.write(ENTER);
    process.once('exit', this.restore);
    this.o.out.on('resize', this.onResize);
    const input = this.o.input;
    if (input?.isTTY) {
      input.setRawMode(true);
      input.on('data', this.onKey);
      input.resume();
    }
    const tick = () => {
      void this.refresh().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.o.readEveryMs ?? 1000);
      });
    };
    tick();
  }

  /** Gives the terminal back: main screen, cursor, cooked input. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.drawTimer);
    this.o.out.off('resize', this.onResize);
    process.off('exit', this.restore);
    const input = this.o.input;
    if (input?.isTTY) {
      input.off('data', this.onKey);
      input.setRawMode(false);
      input.pause();
    }
    this.o.out.write(LEAVE);
  }

  board(id: string, shows: BoardShows): void {
    this.state.boards.set(id, shows);
    this.soon();
  }

  said(id: string, text: string): void {
    this.state.said.set(id, { text, at: Date.now() });
    this.soon();
  }

  printed(device: string, t: string): void {
    this.state.printed.push({ device, t, at: Date.now() });
    if (this.state.printed.length > 20) this.state.printed.shift();
    this.soon();
  }

  /** A warning or error of the hub's log, as one readable line. */
  logLine(line: string): void {
    this.state.log.push(line);
    if (this.state.log.length > LOG_LINES) this.state.log.shift();
    this.soon();
  }

  /** The lines on screen now (for a test or a dump). */
  lines(): string[] {
    return renderPanel(this.state, this.o.out.columns || 100, this.o.out.rows || 40);
  }

  private async refresh(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      const [status, queues, windows, devices] = await Promise.all((['status', 'queues', 'windows', 'devices'] as const).map((a) => this.o.read(a)));
      this.state.snapshot = { status, queues, windows, devices } as PanelSnapshot;
      this.state.readError = undefined;
    } catch (e) {
      this.state.readError = (e as Error).message;
    } finally {
      this.reading = false;
    }
    this.draw();
  }

  /** Draws within 200 ms (changes that come together are drawn once). */
  private soon(): void {
    this.drawTimer ??= setTimeout(() => {
      this.drawTimer = undefined;
      this.draw();
    }, 200);
  }

  private draw(): void {
    if (this.stopped) return;
    const lines = this.lines();
    // Home, each line cleared to its end, the rest of the screen cleared: no flicker, no leftovers.
    this.o.out.write(`${ESC}H${lines.map((l) => `${l}${ESC}K`).join('\r\n')}${ESC}J`);
  }
}
