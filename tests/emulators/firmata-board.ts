/**
 * An Arduino Uno running StandardFirmata 2.5, at the byte level, on the far
 * end of a pseudo-terminal: what drivers/firmata.ts talks to in tests.
 * Written from the Firmata protocol (github.com/firmata/protocol) and
 * StandardFirmata's behaviour:
 * - after its (emulated) reset it announces REPORT_VERSION and the firmware
 *   name, and answers both again when asked;
 * - CAPABILITY / ANALOG_MAPPING / PIN_STATE queries describe an Uno: 20
 *   pins, 0–1 taken by the USB serial, PWM on 3 5 6 9 10 11, A0–A5 = 14–19;
 * - SET_PIN_MODE, DIGITAL_MESSAGE (port write), SET_DIGITAL_PIN_VALUE and
 *   ANALOG_MESSAGE set outputs; a port write with a 1 on an INPUT pin turns
 *   its pull-up on (how firmata-io / johnny-five ask for it);
 * - REPORT_DIGITAL on a port sends the port's input levels at once, then
 *   again whenever one of them changes (only input pins are reported);
 * - SYSTEM_RESET puts every pin back to its power-up mode.
 *
 * The buttons are modelled as contacts to GND: an input reads HIGH unless
 * the test holds it LOW (`set`, `bounce`, `hold`).
 */
import { EventEmitter } from 'node:events';
import { SerialPort } from 'serialport';

export const MODE = { INPUT: 0x00, OUTPUT: 0x01, ANALOG: 0x02, PWM: 0x03, SERVO: 0x04, I2C: 0x06, PULLUP: 0x0b } as const;

const PINS = 20;
const PORTS = Math.ceil(PINS / 8);
const PWM_PINS = new Set([3, 5, 6, 9, 10, 11]);
const FIRST_ANALOG = 14;
const FIRMWARE = 'StandardFirmata.ino';
const VERSION = [2, 5] as const;

const isAnalog = (pin: number) => pin >= FIRST_ANALOG && pin < PINS;
/** 0 and 1 are the serial line itself: StandardFirmata leaves them alone. */
const isDigital = (pin: number) => pin >= 2 && pin < PINS;

interface PinState {
  mode: number;
  /** Output level (0/1), or the PWM duty for a PWM pin. */
  out: number;
  pullup: boolean;
  /** What the outside world does to an input: undefined = nothing (reads HIGH: pulled up). */
  driven: 0 | 1 | undefined;
}

export interface FirmataBoardOptions {
  path: string;
  baudRate?: number;
  /** Send version + firmware right after opening, as the sketch does after a reset. Default true. */
  announce?: boolean;
}

export class FirmataBoard extends EventEmitter<{ change: []; reset: [] }> {
  readonly pins: PinState[] = [];
  /** Ports whose digital inputs are reported. */
  readonly reporting = new Set<number>();
  /** Last value sent per port, so only changes are reported (as the sketch does). */
  private readonly lastSent: (number | undefined)[] = new Array<number | undefined>(PORTS).fill(undefined);
  samplingIntervalMs = 19;
  /** SYSTEM_RESETs received. */
  resets = 0;
  /** Version queries and firmware queries received (the host had to ask). */
  versionQueries = 0;
  private readonly port: SerialPort;
  private sysex: number[] | undefined;
  private cmd: number | undefined;
  private data: number[] = [];
  /** Pending bounce/hold steps: their timer and how to let the waiting test go on. */
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private closed = false;

  private constructor(private readonly opts: FirmataBoardOptions) {
    super();
    this.powerUp();
    this.port = new SerialPort({ path: opts.path, baudRate: opts.baudRate ?? 57600, autoOpen: false });
    this.port.on('data', (chunk: Buffer) => this.feed(chunk));
    // The host end vanishing (socat killed) shows up here as an error; it is the test's doing, not a failure.
    this.port.on('error', () => {});
  }

  static async open(opts: FirmataBoardOptions): Promise<FirmataBoard> {
    const b = new FirmataBoard(opts);
    await new Promise<void>((resolve, reject) => b.port.open((e) => (e ? reject(e) : resolve())));
    if (opts.announce ?? true) {
      b.sendVersion();
      b.sendFirmware();
    }
    return b;
  }

  // ---- what a test looks at -------------------------------------------

  modeOf(pin: number): number | undefined {
    return this.pins[pin]?.mode;
  }

  /** The level the sketch drives on an output pin (a PWM duty > 0 counts as HIGH). */
  output(pin: number): 0 | 1 {
    const p = this.pins[pin];
    if (!p || (p.mode !== MODE.OUTPUT && p.mode !== MODE.PWM)) return 0;
    return p.out > 0 ? 1 : 0;
  }

  pullup(pin: number): boolean {
    const p = this.pins[pin];
    return !!p && (p.mode === MODE.PULLUP || (p.mode === MODE.INPUT && p.pullup));
  }

  /** What an input pin reads: LOW while held, HIGH otherwise (buttons to GND, pulled up). */
  level(pin: number): 0 | 1 {
    return this.pins[pin]?.driven ?? 1;
  }

  // ---- what a test does to the buttons ---------------------------------

  /** Drives an input: 0 = contact closed (pressed), 1 = open. Reported if its port is. */
  set(pin: number, level: 0 | 1): void {
    const p = this.pins[pin];
    if (!p) throw new Error(`no pin ${pin} on an Uno`);
    p.driven = level === 1 ? undefined : 0;
    this.reportPort(pin >> 3, false);
  }

  /** Applies `pattern` levels one after the other, `spacingMs` apart; resolves after the last. */
  async bounce(pin: number, pattern: (0 | 1)[], spacingMs: number): Promise<void> {
    for (let i = 0; i < pattern.length; i++) {
      if (i > 0) await this.sleep(spacingMs);
      this.set(pin, pattern[i]!);
    }
  }

  /** Presses (LOW) for `ms`, then releases. */
  async hold(pin: number, ms: number): Promise<void> {
    this.set(pin, 0);
    await this.sleep(ms);
    this.set(pin, 1);
  }

  /** The board's end goes away (unplugged). Pending bounce/hold steps end at once, sending nothing more. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [t, resolve] of this.timers) {
      clearTimeout(t);
      resolve();
    }
    this.timers.clear();
    if (this.port.isOpen) await new Promise<void>((r) => this.port.close(() => r()));
  }

  // ---- the sketch --------------------------------------------------------

  /** Modes after reset: digital pins OUTPUT (LOW), analog pins ANALOG, as systemResetCallback leaves them. */
  private powerUp(): void {
    this.pins.length = 0;
    for (let pin = 0; pin < PINS; pin++) {
      const mode = isAnalog(pin) ? MODE.ANALOG : isDigital(pin) ? MODE.OUTPUT : 0x7f;
      this.pins.push({ mode, out: 0, pullup: false, driven: undefined });
    }
    this.reporting.clear();
    this.lastSent.fill(undefined);
  }

  private feed(chunk: Buffer): void {
    for (const byte of chunk) {
      if (this.sysex) {
        if (byte === 0xf7) {
          const msg = this.sysex;
          this.sysex = undefined;
          this.onSysex(msg);
        } else if (byte & 0x80) {
          // A command byte inside a sysex: the sysex was cut short; start over with this byte.
          this.sysex = undefined;
          this.feed(Buffer.from([byte]));
        } else this.sysex.push(byte);
        continue;
      }
      if (byte === 0xf0) {
        this.sysex = [];
        this.cmd = undefined;
        continue;
      }
      if (byte & 0x80) {
        this.cmd = byte;
        this.data = [];
        if (dataLength(byte) === 0) this.run(byte, []);
        continue;
      }
      if (this.cmd === undefined) continue; // stray data byte: ignored, as the sketch does
      this.data.push(byte);
      if (this.data.length === dataLength(this.cmd)) {
        const cmd = this.cmd;
        this.cmd = undefined;
        this.run(cmd, this.data);
      }
    }
  }

  private run(cmd: number, d: number[]): void {
    const hi = cmd & 0xf0;
    if (hi === 0x90) return this.writePort(cmd & 0x0f, d[0]! | (d[1]! << 7));
    if (hi === 0xe0) return this.analogWrite(cmd & 0x0f, d[0]! | (d[1]! << 7));
    if (hi === 0xc0) return; // REPORT_ANALOG: no analog inputs are modelled
    if (hi === 0xd0) {
      const port = cmd & 0x0f;
      if (port >= PORTS) return;
      if (d[0]) {
        this.reporting.add(port);
        this.reportPort(port, true);
      } else this.reporting.delete(port);
      return this.changed();
    }
    switch (cmd) {
      case 0xf4:
        return this.setMode(d[0]!, d[1]!);
      case 0xf5:
        return this.setPinValue(d[0]!, d[1]!);
      case 0xf9:
        this.versionQueries++;
        return this.sendVersion();
      case 0xff:
        this.resets++;
        this.powerUp();
        this.emit('reset');
        return this.changed();
    }
  }

  private onSysex(msg: number[]): void {
    const [id, ...body] = msg;
    switch (id) {
      case 0x79: // REPORT_FIRMWARE query
        this.versionQueries++;
        return this.sendFirmware();
      case 0x6b: // CAPABILITY_QUERY
        return this.sendCapabilities();
      case 0x69: // ANALOG_MAPPING_QUERY
        return this.send([0xf0, 0x6a, ...this.pins.map((_, pin) => (isAnalog(pin) ? pin - FIRST_ANALOG : 0x7f)), 0xf7]);
      case 0x6d: {
        // PIN_STATE_QUERY → PIN_STATE_RESPONSE pin mode state(7-bit groups)
        const pin = body[0] ?? 0;
        const p = this.pins[pin];
        if (!p) return;
        const state = p.mode === MODE.INPUT || p.mode === MODE.PULLUP ? (this.pullup(pin) ? 1 : 0) : p.out;
        return this.send([0xf0, 0x6e, pin, p.mode, ...sevenBit(state), 0xf7]);
      }
      case 0x7a: // SAMPLING_INTERVAL lsb msb
        this.samplingIntervalMs = (body[0] ?? 0) | ((body[1] ?? 0) << 7);
        return;
      case 0x6f: {
        // EXTENDED_ANALOG pin value(7-bit groups)
        const [pin = 0, ...v] = body;
        return this.analogWrite(pin, v.reduce((acc, b, i) => acc | (b << (7 * i)), 0), pin);
      }
    }
  }

  private setMode(pin: number, mode: number): void {
    const p = this.pins[pin];
    if (!p || !isDigital(pin)) return;
    p.mode = mode;
    // Like pinMode(): OUTPUT starts LOW (the sketch writes LOW first), INPUT drops the pull-up, INPUT_PULLUP sets it.
    if (mode === MODE.OUTPUT || mode === MODE.PWM) p.out = 0;
    p.pullup = mode === MODE.PULLUP;
    this.changed();
  }

  /** DIGITAL_MESSAGE from the host: outputs take their bit; an INPUT given a 1 gets its pull-up. */
  private writePort(port: number, value: number): void {
    for (let bit = 0; bit < 8; bit++) {
      const pin = port * 8 + bit;
      const p = this.pins[pin];
      if (!p || !isDigital(pin)) continue;
      const v = (value >> bit) & 1;
      if (p.mode === MODE.OUTPUT) p.out = v;
      else if (p.mode === MODE.INPUT && v) p.pullup = true;
    }
    this.changed();
  }

  private setPinValue(pin: number, value: number): void {
    const p = this.pins[pin];
    if (!p || !isDigital(pin)) return;
    if (p.mode === MODE.OUTPUT) p.out = value ? 1 : 0;
    else if (p.mode === MODE.INPUT && value) p.pullup = true;
    this.changed();
  }

  /** ANALOG_MESSAGE channel < 16 (or EXTENDED_ANALOG with a pin): PWM duty on a PWM pin. */
  private analogWrite(channel: number, value: number, pin = channel): void {
    const p = this.pins[pin];
    if (!p || p.mode !== MODE.PWM) return;
    p.out = value;
    this.changed();
  }

  /** Input levels of a port as the sketch reads them: only pins in an input mode, others read 0. */
  private portValue(port: number): number {
    let v = 0;
    for (let bit = 0; bit < 8; bit++) {
      const pin = port * 8 + bit;
      const p = this.pins[pin];
      if (!p || (p.mode !== MODE.INPUT && p.mode !== MODE.PULLUP)) continue;
      if (this.level(pin)) v |= 1 << bit;
    }
    return v;
  }

  private reportPort(port: number, force: boolean): void {
    if (!this.reporting.has(port)) return;
    const v = this.portValue(port);
    if (!force && v === this.lastSent[port]) return;
    this.lastSent[port] = v;
    this.send([0x90 | port, v & 0x7f, (v >> 7) & 0x7f]);
  }

  private sendVersion(): void {
    this.send([0xf9, VERSION[0], VERSION[1]]);
  }

  private sendFirmware(): void {
    const name = [...Buffer.from(FIRMWARE, 'ascii')].flatMap((c) => [c & 0x7f, c >> 7]);
    this.send([0xf0, 0x79, VERSION[0], VERSION[1], ...name, 0xf7]);
  }

  private sendCapabilities(): void {
    const out = [0xf0, 0x6c];
    for (let pin = 0; pin < PINS; pin++) {
      if (isDigital(pin)) {
        out.push(MODE.INPUT, 1, MODE.OUTPUT, 1, MODE.PULLUP, 1);
        if (PWM_PINS.has(pin)) out.push(MODE.PWM, 8);
        if (!isAnalog(pin)) out.push(MODE.SERVO, 14);
        if (isAnalog(pin)) out.push(MODE.ANALOG, 10);
        if (pin === 18 || pin === 19) out.push(MODE.I2C, 1);
      }
      out.push(0x7f);
    }
    out.push(0xf7);
    this.send(out);
  }

  private send(bytes: number[]): void {
    if (this.closed || !this.port.isOpen) return;
    this.port.write(Buffer.from(bytes));
  }

  private changed(): void {
    this.emit('change');
  }

  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.set(t, resolve);
    });
  }
}

function dataLength(cmd: number): number {
  const hi = cmd & 0xf0;
  if (hi === 0x90 || hi === 0xe0) return 2;
  if (hi === 0xc0 || hi === 0xd0) return 1;
  if (cmd === 0xf4 || cmd === 0xf5) return 2;
  return 0; // 0xF9 REPORT_VERSION, 0xFF SYSTEM_RESET, and anything unknown
}

function sevenBit(n: number): number[] {
  const out = [n & 0x7f];
  for (let v = n >> 7; v > 0; v >>= 7) out.push(v & 0x7f);
  return out;
}
