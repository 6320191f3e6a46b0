/**
 * A ticket dispenser's Arduino (StandardFirmata over USB): service
 * buttons, a status LED and a buzzer, driven through johnny-five on top of
 * our own serial line (`ByteLink`, normally `SerialLine`), so the line's
 * reconnect-with-backoff is the only reconnect logic and johnny-five never
 * opens, scans or closes a port itself.
 *
 * Wiring: SerialLine ⇄ LinkTransport (an EventEmitter with the `write` /
 * `on('data'|'open'|'close'|'error')` surface firmata-io expects of a port)
 * ⇄ firmata-io `Firmata` (protocol, handshake) ⇄ johnny-five `Board`
 * (`{ io, repl: false, sigint: false, debug: false }`: no REPL on stdin, no
 * SIGINT handler that would exit our daemon, no console logging) ⇄ `Button`
 * (INPUT + pull-up, port reporting), `Led`, `Pin` (buzzer).
 *
 * Every time the line comes (back), a fresh Firmata + Board are built: the
 * Arduino resets when its port is opened, so nothing of the previous
 * session's pin setup survives on the board side anyway. Every time it
 * goes, the old ones are taken apart (timers, listeners, johnny-five's
 * module-level board list), see `teardown`.
 *
 * Why not johnny-five's own debounce: Button only delays its events by 7 ms
 * (a trailing lodash debounce) — a contact that chatters for longer, or a
 * button held down, is not its concern. Presses are decided by
 * `PressDebouncer` below.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { Firmata, FirmataTransport } from 'firmata-io';
import type { Board, Button, Led, Pin } from 'johnny-five';
import type { ByteLink } from './serial/types.js';

export type LedMode = 'on' | 'off' | 'blink';

export interface FirmataPanelOptions {
  link: ByteLink;
  /** Arduino pin per service button, in button order (button 1 first). Wired to GND, pressed = LOW. */
  buttons: number[];
  /** Status LED pin (HIGH = lit). */
  led?: number;
  /** Active buzzer pin (sounds while HIGH). */
  buzzer?: number;
  /** A press (and a release) counts once the contact has been steady this long. Default 30. */
  debounceMs?: number;
  /** Half-period of `led('blink')`. Default 500. */
  blinkMs?: number;
  /**
   * StandardFirmata announces its version by itself after the reset that
   * opening the port causes (~2 s through the bootloader); only if that has
   * not arrived after this long do we ask. Default 2500.
   */
  askVersionAfterMs?: number;
  /** No complete handshake this long after the line opened: start over (and ask again). Default 10 000. */
  readyTimeoutMs?: number;
  log?: Logger;
}

export interface FirmataPanelEvents {
  /** A debounced press; `button` is 1-based, in the order of `options.buttons`. */
  press: [button: number];
  /** Handshake done, pins set up: presses are counted, `led`/`beep` act. */
  ready: [];
  /** The line went away after `ready` (unplugged). `ready` follows when it is back. */
  lost: [];
}

const ignore = (): void => {};

/** Longest single beep: a caller's mistake (`beep(60_000)`) should not howl for a minute. */
const MAX_BEEP_MS = 10_000;

/**
 * Turns a contact's raw level changes into presses.
 *
 * Timing, with `ms` = debounceMs:
 * - a press is reported `ms` after the last change to "pressed", if no
 *   change to "released" came in between (so chatter while closing, any
 *   number of edges, makes one press, reported `ms` after it settles;
 *   a contact closed for less than `ms` is no press);
 * - after a press the contact must read "released" for `ms` without
 *   interruption before another press can start (so chatter while opening
 *   makes no second press, and a button held for minutes is one press).
 *
 * Upstream, johnny-five's Button delays each level change by its own 7 ms,
 * and the serial line adds its few ms: a clean press is reported about
 * `ms + 10` ms after the contact closes.
 */
export class PressDebouncer {
  private state: 'released' | 'closing' | 'pressed' | 'opening' = 'released';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ms: number,
    private readonly onPress: () => void,
  ) {}

  /** Feed the contact's level: true = pressed. Repeats of the current level change nothing. */
  input(pressed: boolean): void {
    switch (this.state) {
      case 'released':
        if (pressed) this.wait('closing', () => {
          this.state = 'pressed';
          this.onPress();
        });
        break;
      case 'closing':
        if (!pressed) this.settle('released');
        break;
      case 'pressed':
        if (!pressed) this.wait('opening', () => (this.state = 'released'));
        break;
      case 'opening':
        if (pressed) this.settle('pressed');
        break;
    }
  }

  /** Forget the contact (board gone): no timer left behind, the next session starts released. */
  dispose(): void {
    this.settle('released');
  }

  private wait(state: 'closing' | 'opening', then: () => void): void {
    this.state = state;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      then();
    }, this.ms);
  }

  private settle(state: 'released' | 'pressed'): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.state = state;
  }
}

/**
 * What firmata-io gets instead of a port: it calls `write(bytes, done)` and
 * listens for `data`, `open`, `close` and `error`. One per session; once
 * killed it neither writes nor delivers, so a Firmata that is being thrown
 * away cannot talk to the next (freshly reset) board.
 */
class LinkTransport extends EventEmitter implements FirmataTransport {
  private dead = false;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly link: ByteLink,
    private readonly onFail: (e: Error) => void,
  ) {
    super();
  }

  write(data: Buffer, done: () => void): boolean {
    // While the line is away SerialLine would queue the bytes for the
    // reconnect, but they belong to this session's board: the reconnected
    // one has reset and gets its own setup from a new session.
    if (this.dead || !this.link.isOpen) {
      queueMicrotask(done);
      return false;
    }
    const p: Promise<void> = this.link
      .write(data)
      .catch((e: unknown) => this.onFail(e instanceof Error ? e : new Error(String(e))))
      .finally(() => {
        this.inflight.delete(p);
        done();
      });
    this.inflight.add(p);
    return true;
  }

  deliver(chunk: Buffer): void {
    if (!this.dead) this.emit('data', chunk);
  }

  /** Resolves once every write made so far was sent (or failed), or after `ms`. */
  async settle(ms: number): Promise<void> {
    if (!this.inflight.size) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inflight]),
      new Promise<void>((r) => (timer = setTimeout(r, ms))),
    ]);
    clearTimeout(timer);
  }

  kill(): void {
    this.dead = true;
    this.removeAllListeners();
  }
}

interface Libs {
  five: typeof import('johnny-five');
  Firmata: typeof Firmata;
}
let libs: Libs | undefined;

/** johnny-five is CommonJS and sizeable: loaded the first time a panel starts, not by every daemon that imports this file. */
function load(): Libs {
  if (!libs) {
    const req = createRequire(import.meta.url);
    libs = {
      five: req('johnny-five') as typeof import('johnny-five'),
      Firmata: (req('firmata-io') as typeof import('firmata-io').default).Firmata,
    };
  }
  return libs;
}

interface Session {
  n: number;
  transport: LinkTransport;
  io: Firmata;
  board: Board;
  buttons: Button[];
  debouncers: PressDebouncer[];
  led?: Led;
  buzzer?: Pin;
  ready: boolean;
  writeFailed: boolean;
}

/**
 * The panel of one dispenser: `press` (1-based button), `ready` / `lost`
 * around each time the board is there, `led()` and `beep()`.
 *
 * A button that is already held when the board comes (back) counts as one
 * press once it has read pressed for debounceMs, like any other press: a
 * visitor pressing during a replug gets the ticket; a stuck button costs
 * one ticket per replug, not one per second.
 */
export class FirmataPanel extends EventEmitter<FirmataPanelEvents> {
  private readonly link: ByteLink;
  private readonly pins: readonly number[];
  private readonly ledPin: number | undefined;
  private readonly buzzerPin: number | undefined;
  private readonly debounceMs: number;
  private readonly blinkMs: number;
  private readonly askVersionAfterMs: number;
  private readonly readyTimeoutMs: number;
  private readonly log: Logger | undefined;

  private running = false;
  private unsubs: (() => void)[] = [];
  private session: Session | undefined;
  private sessions = 0;
  private retry: NodeJS.Timeout | undefined;
  private handshakeFailures = 0;
  private lastHandshakeLog = 0;
  private ledMode: LedMode = 'off';
  private beepTimer: NodeJS.Timeout | undefined;
  private beepEnd = 0;
  private setupFailed = false;

  constructor(opts: FirmataPanelOptions) {
    super();
    const used = [...opts.buttons, ...(opts.led === undefined ? [] : [opts.led]), ...(opts.buzzer === undefined ? [] : [opts.buzzer])];
    // Pins 0 and 1 are the USB serial itself on Uno/Nano/Mega: a button there would cut the line.
    for (const p of used) if (!Number.isInteger(p) || p < 2 || p > 127) throw new Error(`firmata: pin ${p} cannot be used (digital pins from 2)`);
    if (new Set(used).size !== used.length) throw new Error(`firmata: a pin is given twice (${used.join(', ')})`);
    if (!opts.buttons.length) throw new Error('firmata: no button pins');
    this.link = opts.link;
    this.pins = [...opts.buttons];
    this.ledPin = opts.led;
    this.buzzerPin = opts.buzzer;
    this.debounceMs = opts.debounceMs ?? 30;
    this.blinkMs = opts.blinkMs ?? 500;
    this.askVersionAfterMs = opts.askVersionAfterMs ?? 2500;
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 10_000;
    this.log = opts.log;
  }

  /** True between `ready` and `lost`/`stop()`. */
  get isReady(): boolean {
    return this.session?.ready ?? false;
  }

  /** Follows the line from now on: a session whenever it is open. The line itself is the caller's to start. */
  start(): void {
    if (this.running) return;
    this.running = true;
    load();
    this.unsubs.push(
      this.link.onState((open) => (open ? this.connect() : this.drop())),
      this.link.onData((chunk) => this.session?.transport.deliver(chunk)),
    );
    if (this.link.isOpen) this.connect();
  }

  /**
   * Turns the LED and buzzer off (if the board is there), then lets go of
   * johnny-five: no timer or listener of ours is left. The line stays open
   * (it is the caller's).
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const u of this.unsubs.splice(0)) u();
    clearTimeout(this.retry);
    const s = this.session;
    this.session = undefined;
    if (!s) return;
    if (s.ready && this.link.isOpen) {
      try {
        s.led?.stop().off();
        s.buzzer?.low();
      } catch (e) {
        this.log?.debug({ err: (e as Error).message }, 'firmata: could not switch the outputs off');
      }
      await s.transport.settle(500);
    }
    this.teardown(s);
  }

  /** The LED's state; kept, and set again on the board after a reconnect. */
  led(mode: LedMode): void {
    this.ledMode = mode;
    const s = this.session;
    if (s?.ready) this.applyLed(s);
  }

  /**
   * Sounds the buzzer for `ms` (at most 10 s). A beep while one sounds
   * lasts until the later of the two ends. Returns false when there is no
   * board (a beep is for now; it is not replayed after a reconnect).
   */
  beep(ms: number): boolean {
    const s = this.session;
    if (!s?.ready || !s.buzzer || !(ms > 0)) return false;
    const len = Math.min(ms, MAX_BEEP_MS);
    const end = performance.now() + len;
    if (this.beepTimer && end <= this.beepEnd) return true;
    if (!this.beepTimer) s.buzzer.high();
    clearTimeout(this.beepTimer);
    this.beepEnd = end;
    this.beepTimer = setTimeout(() => {
      this.beepTimer = undefined;
      if (this.session === s) s.buzzer?.low();
    }, len);
    return true;
  }

  // ------------------------------------------------------------------

  private connect(): void {
    if (!this.running || this.session) return;
    clearTimeout(this.retry);
    const { five, Firmata: FirmataIo } = load();
    const n = ++this.sessions;
    const transport = new LinkTransport(this.link, (e) => this.writeFailed(s, e));
    const io = new FirmataIo(transport, { reportVersionTimeout: this.askVersionAfterMs });
    const board = new five.Board({ io, id: `firmata-${n}`, repl: false, sigint: false, debug: false, timeout: this.readyTimeoutMs });
    const s: Session = { n, transport, io, board, buttons: [], debouncers: [], ready: false, writeFailed: false };
    this.session = s;
    // Board#log emits its "error"s as events: without a listener they would be thrown.
    board.on('error', (e: unknown) => this.boardError(s, e));
    board.on('ready', () => this.boardReady(s));
    // firmata-io turns the transport's "open" into the "connect" that johnny-five waits for before it passes "ready" on.
    transport.emit('open');
    this.log?.debug({ session: n }, 'firmata: line open, waiting for the board');
  }

  private boardReady(s: Session): void {
    if (this.session !== s) return;
    const { five } = load();
    try {
      const have = s.io.pins.length;
      for (const p of [...this.pins, this.ledPin, this.buzzerPin]) {
        if (p !== undefined && p >= have) throw new Error(`pin ${p} is not on this board (${have} pins)`);
      }
      // Button rather than Pin: a Pin in input mode polls with a setInterval
      // that nothing can stop (a leak per reconnect, and a process that never
      // exits); Button is driven by Firmata's port reports. Its level changes
      // feed our debouncer; its own "hold" and 7 ms debounce are not used.
      this.pins.forEach((pin, i) => {
        const button = new five.Button({ pin, board: s.board, isPullup: true });
        const deb = new PressDebouncer(this.debounceMs, () => this.pressed(s, i + 1));
        button.on('down', () => deb.input(true));
        button.on('up', () => deb.input(false));
        s.buttons.push(button);
        s.debouncers.push(deb);
      });
      if (this.ledPin !== undefined) s.led = new five.Led({ pin: this.ledPin, board: s.board });
      // A plain output, not Piezo: an active buzzer only needs HIGH/LOW, and
      // Piezo would bit-bang a tone with a nanotimer, a serial message per
      // half-wave at 57600 baud.
      if (this.buzzerPin !== undefined) s.buzzer = new five.Pin({ pin: this.buzzerPin, board: s.board, mode: 1 }).low();
      s.ready = true;
      this.applyLed(s);
    } catch (e) {
      // Pins this board does not have (a configuration for a bigger board),
      // or a garbled capability report. Said loudly once; tried again, as
      // the board may be swapped or the report fine next time.
      const level = this.setupFailed ? 'debug' : 'error';
      this.setupFailed = true;
      this.log?.[level]({ err: (e as Error).message, buttons: this.pins, led: this.ledPin, buzzer: this.buzzerPin, retryMs: this.readyTimeoutMs }, 'firmata: the panel cannot be set up on this board');
      this.session = undefined;
      this.teardown(s);
      this.retry = setTimeout(() => this.connect(), this.readyTimeoutMs);
      return;
    }
    this.setupFailed = false;
    const fw = s.io.firmware;
    this.handshakeFailures = 0;
    this.log?.info({ session: s.n, firmware: fw.name, version: fw.version ? `${fw.version.major}.${fw.version.minor}` : undefined, pins: s.io.pins.length }, 'firmata: board ready');
    this.safeEmit('ready');
  }

  private boardError(s: Session, e: unknown): void {
    if (this.session !== s) return;
    const message = (e as { message?: string } | undefined)?.message ?? String(e);
    if (s.ready) {
      this.log?.warn({ session: s.n, err: message }, 'firmata: board error');
      return;
    }
    // Only johnny-five's connect timeout gets here before "ready": the
    // version query was lost (sent while the bootloader ran) or the sketch
    // is not StandardFirmata. A new Firmata asks again.
    // The first failure is news; the same one every few seconds for hours is not (once a minute after that).
    this.handshakeFailures++;
    const now = Date.now();
    const level = this.handshakeFailures === 1 || now - this.lastHandshakeLog >= 60_000 ? 'warn' : 'debug';
    if (level === 'warn') this.lastHandshakeLog = now;
    this.log?.[level]({ session: s.n, err: message.split('\n')[0], afterMs: this.readyTimeoutMs, failures: this.handshakeFailures }, 'firmata: no handshake with the board; trying again (is StandardFirmata flashed?)');
    this.session = undefined;
    this.teardown(s);
    this.retry = setTimeout(() => this.connect(), 0);
  }

  private pressed(s: Session, button: number): void {
    if (this.session !== s || !s.ready) return;
    this.log?.debug({ button, pin: this.pins[button - 1] }, 'firmata: press');
    this.safeEmit('press', button);
  }

  private writeFailed(s: Session, e: Error): void {
    // The first failure of a session is news; the rest are its echo.
    const level = s.writeFailed ? 'debug' : 'warn';
    s.writeFailed = true;
    this.log?.[level]({ session: s.n, err: e.message }, 'firmata: a command could not be sent to the board');
  }

  private drop(): void {
    clearTimeout(this.retry);
    const s = this.session;
    if (!s) return;
    this.session = undefined;
    this.teardown(s);
    if (s.ready) {
      this.log?.warn({ session: s.n }, 'firmata: board gone');
      this.safeEmit('lost');
    }
  }

  private applyLed(s: Session): void {
    const led = s.led;
    if (!led) return;
    led.stop();
    if (this.ledMode === 'on') led.on();
    else if (this.ledMode === 'off') led.off();
    else led.blink(this.blinkMs);
  }

  /**
   * Takes a session apart so that nothing of it runs or stays referenced:
   * - our debounce and beep timers, the LED's blink interval;
   * - Button's "hold" interval, started on every press and cleared only
   *   when it sees the release, which a board that vanished mid-press never
   *   sends: each Button is handed its idle level so it clears it itself;
   * - the Board's connect timeout and firmata-io's ask-for-the-version
   *   timeout (both armed when the line goes before the handshake ends);
   * - johnny-five's module-level list of boards (`Board.cache`) and its
   *   per-board pin-normalizer map, which would keep every old Board (and
   *   through it its Firmata and transport) alive forever;
   * - the components' own module-level side tables (`priv` maps in
   *   button.js/led.js/pin.js) cannot be reached: each keeps a small entry
   *   per component, whose `board`/`io` we cut so it does not keep the rest.
   */
  private teardown(s: Session): void {
    const { five } = load();
    clearTimeout(this.beepTimer);
    this.beepTimer = undefined;
    for (const d of s.debouncers) d.dispose();
    try {
      s.led?.stop();
      for (const b of s.buttons) {
        b.removeAllListeners();
        s.io.emit(`digital-read-${b.pin}`, b.upValue);
      }
    } catch (e) {
      this.log?.debug({ err: (e as Error).message }, 'firmata: teardown of a component failed');
    }
    clearTimeout(s.board.timer ?? undefined);
    clearTimeout(s.io.reportVersionTimeoutId);
    s.board.removeAllListeners();
    // johnny-five's connect timeout emits "error" twice in a row (once via
    // its logger, once as an Error): when the first one got us here, the
    // second must still find a listener or it is thrown.
    s.board.on('error', ignore);
    s.io.removeAllListeners();
    s.transport.kill();
    const cache = five.Board.cache;
    const at = cache.indexOf(s.board);
    if (at >= 0) cache.splice(at, 1);
    five.Board.Pins.normalize.clear();
    for (const c of [...s.buttons, s.led, s.buzzer]) {
      if (!c) continue;
      c.board = undefined;
      c.io = undefined;
    }
    s.buttons.length = 0;
    s.debouncers.length = 0;
    s.led = undefined;
    s.buzzer = undefined;
  }

  private safeEmit<K extends keyof FirmataPanelEvents>(event: K, ...args: FirmataPanelEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: FirmataPanelEvents[K]) => boolean)(event, ...args);
    } catch (e) {
      this.log?.error({ err: (e as Error).message, event }, 'firmata: a listener failed');
    }
  }
}
