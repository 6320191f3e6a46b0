/**
 * A serial line that stays: it opens its port, reopens it with backoff
 * when the device is absent at boot or unplugged later (serialport has no
 * reconnect of its own: an unplug closes the stream with `disconnected`),
 * and keeps writes made while the device is away in a bounded queue, sent
 * in order on reconnect. A queued write is either sent or rejected with a
 * reason (overflow, expired, stopped): never silently lost.
 *
 * Bytes only: what the bytes mean is the frame driver's business
 * (drivers/modbus.ts, dfplayer.ts, escpos.ts, firmata.ts, lines.ts).
 */
import { SerialPortStream } from '@serialport/stream';
import type { Logger } from 'pino';
import { SerialPort } from 'serialport';
import type { ByteLink } from './types.js';

/** A serialport binding (the system's, or `SerialPortMock.binding` in tests). */
type BindingInterface = ConstructorParameters<typeof SerialPortStream>[0]['binding'];

export interface SerialLineOptions {
  /** Prefer /dev/serial/by-id/…: it names the same adapter after a replug or a reboot. */
  path: string;
  baudRate?: number;
  dataBits?: 5 | 6 | 7 | 8;
  parity?: 'none' | 'even' | 'odd' | 'mark' | 'space';
  stopBits?: 1 | 1.5 | 2;
  /** Another serialport binding (tests: `SerialPortMock.binding`); the system's by default. */
  binding?: BindingInterface;
  /** Writes kept while the device is away; the oldest is refused beyond this. */
  queueLimit?: number;
  /** Reopen delays: doubling from `min` to `max`, with jitter. */
  backoffMs?: { min: number; max: number };
}

/** Why a write was refused; `code` lets a caller tell a full queue from a stopped line. */
export class LineWriteError extends Error {
  constructor(
    readonly code: 'overflow' | 'expired' | 'stopped' | 'write_failed',
    message: string,
  ) {
    super(message);
    this.name = 'LineWriteError';
  }
}

interface Pending {
  data: Buffer;
  key?: string;
  at: number;
  expireMs?: number;
  settle: { resolve: () => void; reject: (e: Error) => void }[];
}

export interface LineStats {
  path: string;
  open: boolean;
  opens: number;
  openFailures: number;
  queued: number;
  refused: number;
  bytesIn: number;
  bytesOut: number;
  lastError?: string;
}

export class SerialLine implements ByteLink {
  private port?: SerialPortStream;
  private readonly queue: Pending[] = [];
  private readonly dataFns = new Set<(chunk: Buffer) => void>();
  private readonly stateFns = new Set<(open: boolean) => void>();
  private retry?: NodeJS.Timeout;
  private delay: number;
  private running = false;
  private opened = false;
  private flushing = false;
  /** The write handed to the port and not drained yet: its bytes are gone, so a newer state must not be merged into it. */
  private inflight?: Pending;
  private readonly stat = { opens: 0, openFailures: 0, refused: 0, bytesIn: 0, bytesOut: 0, lastError: undefined as string | undefined };
  private readonly o: Required<Omit<SerialLineOptions, 'binding'>> & { binding?: BindingInterface };

  constructor(
    opts: SerialLineOptions,
    private readonly log?: Logger,
  ) {
    this.o = {
      baudRate: 9600,
      dataBits: 8,
      parity: 'none',
      stopBits: 1,
      queueLimit: 64,
      backoffMs: { min: 250, max: 5_000 },
      ...opts,
    };
    this.delay = this.o.backoffMs.min;
  }

  get path(): string {
    return this.o.path;
  }

  get isOpen(): boolean {
    return this.opened;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.open();
  }

  /** Closes the port for good; queued writes are refused with `stopped`. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retry);
    for (const p of this.queue.splice(0)) this.reject(p, new LineWriteError('stopped', `${this.o.path}: the line was stopped before this write could be sent`));
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((r) => port.close(() => r()));
    this.setOpen(false);
  }

  write(data: Buffer, opts: { key?: string; expireMs?: number } = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (!this.running) return reject(new LineWriteError('stopped', `${this.o.path}: the line is not running`));
      if (opts.key !== undefined) {
        // Newest state wins: a queued write with the same key takes the new bytes; both callers learn the outcome of the one send.
        // Not the one being sent: its bytes are already in the port, and merging would lose the newer state (seen under CPU load,
        // where the drain takes long enough for the next screen of a keypad to arrive meanwhile).
        const same = this.queue.find((p) => p.key === opts.key && p !== this.inflight);
        if (same) {
          same.data = data;
          same.at = Date.now();
          same.expireMs = opts.expireMs;
          same.settle.push({ resolve, reject });
          return;
        }
      }
      this.queue.push({ data, key: opts.key, at: Date.now(), expireMs: opts.expireMs, settle: [{ resolve, reject }] });
      while (this.queue.length > this.o.queueLimit) {
        const old = this.queue.shift()!;
        this.stat.refused++;
        this.reject(old, new LineWriteError('overflow', `${this.o.path}: ${this.o.queueLimit} writes already wait for the device; the oldest was dropped`));
      }
      void this.flush();
    });
  }

  onData(fn: (chunk: Buffer) => void): () => void {
    this.dataFns.add(fn);
    return () => this.dataFns.delete(fn);
  }

  onState(fn: (open: boolean) => void): () => void {
    this.stateFns.add(fn);
    return () => this.stateFns.delete(fn);
  }

  stats(): LineStats {
    return { path: this.o.path, open: this.opened, queued: this.queue.length, ...this.stat };
  }

  // ------------------------------------------------------------------

  private open(): void {
    if (!this.running) return;
    const base = { path: this.o.path, baudRate: this.o.baudRate, dataBits: this.o.dataBits, parity: this.o.parity, stopBits: this.o.stopBits, autoOpen: false };
    const port: SerialPortStream = this.o.binding ? new SerialPortStream({ ...base, binding: this.o.binding }) : new SerialPort(base);
    this.port = port;
    port.open((err) => {
      if (port !== this.port) {
        if (!err) port.close();
        return;
      }
      if (err) {
        this.stat.openFailures++;
        this.stat.lastError = err.message;
        // The first failure is news; the same failure every few seconds is not.
        const level = this.stat.openFailures === 1 ? 'warn' : 'debug';
        this.log?.[level]({ path: this.o.path, err: err.message, retryMs: this.delay }, 'serial port cannot be opened; retrying');
        this.port = undefined;
        return this.schedule();
      }
      this.stat.opens++;
      this.delay = this.o.backoffMs.min;
      this.log?.info({ path: this.o.path, opens: this.stat.opens }, 'serial port open');
      port.on('data', (chunk: Buffer) => {
        this.stat.bytesIn += chunk.length;
        for (const fn of this.dataFns) fn(chunk);
      });
      port.on('error', (e: Error) => {
        this.stat.lastError = e.message;
        this.log?.debug({ path: this.o.path, err: e.message }, 'serial port error');
      });
      port.on('close', (e?: Error & { disconnected?: boolean }) => {
        if (port !== this.port) return;
        this.port = undefined;
        this.setOpen(false);
        if (!this.running) return;
        this.stat.lastError = e?.message ?? 'closed';
        this.log?.warn({ path: this.o.path, disconnected: e?.disconnected ?? false, err: e?.message }, 'serial port gone; reconnecting');
        this.schedule();
      });
      this.setOpen(true);
      void this.flush();
    });
  }

  private schedule(): void {
    if (!this.running) return;
    clearTimeout(this.retry);
    const jitter = 0.8 + Math.random() * 0.4;
    this.retry = setTimeout(() => this.open(), Math.round(this.delay * jitter));
    this.delay = Math.min(this.o.backoffMs.max, this.delay * 2);
  }

  private setOpen(open: boolean): void {
    if (this.opened === open) return;
    this.opened = open;
    for (const fn of this.stateFns) {
      try {
        fn(open);
      } catch (e) {
        this.log?.error({ err: (e as Error).message, path: this.o.path }, 'serial state listener failed');
      }
    }
  }

  /** Sends queued writes in order while the port is open; one at a time, each drained before the next. */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length && this.port && this.opened) {
        const p = this.queue[0]!;
        if (p.expireMs !== undefined && Date.now() - p.at > p.expireMs) {
          this.queue.shift();
          this.stat.refused++;
          this.reject(p, new LineWriteError('expired', `${this.o.path}: the device was away for longer than ${p.expireMs} ms; the write was not sent`));
          continue;
        }
        const port = this.port;
        this.inflight = p;
        const err = await new Promise<Error | null | undefined>((r) => {
          // A port that closes (unplugged) with these bytes still in it may never call back: without this the line
          // would wait for that write for ever and send nothing after the replug (seen with a pty under CPU load).
          const closed = () => r(new Error('the port closed before the write was drained'));
          port.once('close', closed);
          const done = (e: Error | null | undefined) => {
            port.off('close', closed);
            r(e);
          };
          port.write(p.data, (e) => (e ? done(e) : port.drain((d) => done(d))));
        }).finally(() => (this.inflight = undefined));
        if (err && port === this.port && this.opened && gone(err)) {
          // The device went away under this write (EIO from a hung-up tty, ENXIO/ENODEV from a pulled USB adapter): the
          // bytes stay queued for the reconnect. The port's own close usually follows; if it does not, close it here.
          if (port.isOpen) port.close(() => undefined);
          break;
        }
        if (err && port === this.port && this.opened) {
          // The port is still there but refused the bytes: report it, do not loop on it.
          this.queue.shift();
          this.stat.refused++;
          this.reject(p, new LineWriteError('write_failed', `${this.o.path}: ${err.message}`));
          continue;
        }
        if (err) break; // unplugged mid-write: keep it queued for the reconnect
        this.queue.shift();
        this.stat.bytesOut += p.data.length;
        for (const s of p.settle) s.resolve();
      }
    } finally {
      this.flushing = false;
    }
  }

  private reject(p: Pending, e: Error): void {
    for (const s of p.settle) s.reject(e);
  }
}

/** An error that means the device is no longer there (rather than a write it refused). */
function gone(e: Error): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return /\b(EIO|ENXIO|ENODEV|EBADF)\b|bad file descriptor|i\/o error|no such device|closed before the write/i.test(`${code ?? ''} ${e.message}`);
}
