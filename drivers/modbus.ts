/**
 * Modbus RTU master over a ByteLink: the two write functions the LED-485
 * window displays understand (06 "write single register", 16 "write
 * multiple registers"), one request on the bus at a time, a response
 * timeout with retries, and frames reassembled from whatever pieces the
 * serial line delivers.
 *
 * Written by hand rather than on `modbus-serial` (8.0.25). It was tried and
 * did not fit, for these concrete reasons (read in its index.js):
 *  - On a serial port every request uses transaction id 1, so a second call
 *    made before the first is answered overwrites the first one's callback
 *    and timer: it has no queue, we would have had to write the FIFO anyway.
 *  - It has no retries, only a per-transaction timeout.
 *  - It refuses to send unless `port.isOpen` is true (PortNotOpenError), while
 *    our ByteLink is meant to keep a write queued until the device is back.
 *  - A custom port's every 'data' event is taken as one whole frame: an answer
 *    that arrives in two chunks fails with "Data length error". Reassembly
 *    only exists in its RTUBufferedPort, which opens its own SerialPort by
 *    path instead of using our line (and its reconnects).
 *  - A bad-CRC or stray frame fails the transaction at once instead of being
 *    ignored while the real answer may still come.
 *  - Its port `write()` is fire-and-forget: a refused ByteLink write is lost.
 * What is left once all that is added around it is the framing and the CRC,
 * which are short; owning them also keeps the wire bytes obvious.
 */
import type { ByteLink } from './serial/types.js';

// ---------------------------------------------------------------- framing

export const FN_WRITE_REGISTER = 0x06;
export const FN_WRITE_REGISTERS = 0x10;

/** CRC-16/Modbus: reflected polynomial 0xA001, initial 0xFFFF. Table-driven: a display refresh checks several frames. */
const CRC_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[n] = c;
  }
  return t;
})();

export function crc16modbus(buf: Uint8Array): number {
  let crc = 0xffff;
  for (const byte of buf) crc = (crc >>> 8) ^ CRC_TABLE[(crc ^ byte) & 0xff]!;
  return crc;
}

/** Appends the CRC, low byte first as Modbus RTU puts it on the wire. */
function withCrc(body: Buffer): Buffer {
  const out = Buffer.alloc(body.length + 2);
  body.copy(out);
  out.writeUInt16LE(crc16modbus(body), body.length);
  return out;
}

/** True when the last two bytes are the CRC of the rest. */
export function crcOk(frame: Uint8Array): boolean {
  if (frame.length < 4) return false;
  const body = frame.subarray(0, frame.length - 2);
  const got = frame[frame.length - 2]! | (frame[frame.length - 1]! << 8);
  return got === crc16modbus(body);
}

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`Modbus ${name} must be an integer ${min}..${max}, got ${v}`);
}

/** Slave addresses 1..247; 0 is broadcast (nobody answers, so a write could not be confirmed) and 248+ are reserved. */
function checkAddress(addr: number): void {
  checkInt('slave address', addr, 1, 247);
}

/** Function 06: one holding register. */
export function writeRegisterFrame(addr: number, reg: number, value: number): Buffer {
  checkAddress(addr);
  checkInt('register', reg, 0, 0xffff);
  checkInt('register value', value, 0, 0xffff);
  const b = Buffer.alloc(6);
  b[0] = addr;
  b[1] = FN_WRITE_REGISTER;
  b.writeUInt16BE(reg, 2);
  b.writeUInt16BE(value, 4);
  return withCrc(b);
}

/** Function 16: consecutive holding registers from `start` (at most 123, the RTU frame limit of 256 bytes). */
export function writeRegistersFrame(addr: number, start: number, values: number[]): Buffer {
  checkAddress(addr);
  checkInt('register count', values.length, 1, 123);
  checkInt('start register', start, 0, 0x10000 - values.length);
  const b = Buffer.alloc(7 + values.length * 2);
  b[0] = addr;
  b[1] = FN_WRITE_REGISTERS;
  b.writeUInt16BE(start, 2);
  b.writeUInt16BE(values.length, 4);
  b[6] = values.length * 2;
  values.forEach((v, i) => {
    checkInt('register value', v, 0, 0xffff);
    b.writeUInt16BE(v, 7 + i * 2);
  });
  return withCrc(b);
}

// ------------------------------------------------------------- responses

const EXCEPTION_NAMES: Record<number, string> = {
  0x01: 'illegal function',
  0x02: 'illegal data address',
  0x03: 'illegal data value',
  0x04: 'server device failure',
  0x05: 'acknowledge (still processing)',
  0x06: 'server device busy',
  0x08: 'memory parity error',
  0x0a: 'gateway path unavailable',
  0x0b: 'gateway target device failed to respond',
};

/** The device answered, but with "no": `code` is the Modbus exception code. */
export class ModbusExceptionError extends Error {
  constructor(
    readonly address: number,
    readonly fn: number,
    readonly code: number,
  ) {
    const name = EXCEPTION_NAMES[code] ?? 'unknown exception';
    super(`Modbus address ${address} refused function ${hex(fn)}: exception ${hex(code)} (${name})`);
    this.name = 'ModbusExceptionError';
  }
}

/** An answer that is not the answer to our request (corrupt, someone else's, or for an earlier request). */
export class ModbusFrameError extends Error {
  constructor(
    readonly reason: 'crc' | 'length' | 'address' | 'function' | 'echo',
    message: string,
  ) {
    super(message);
    this.name = 'ModbusFrameError';
  }
}

/** The device did not answer (or only with garbage) within timeout × attempts. */
export class ModbusTimeoutError extends Error {
  constructor(
    readonly address: number,
    readonly attempts: number,
    message: string,
  ) {
    super(message);
    this.name = 'ModbusTimeoutError';
  }
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(2, '0');
}

/** Length of the normal answer to a write request (06 echoes it; 16 repeats addr, fn, start, count). */
function answerLength(fn: number): number {
  if (fn === FN_WRITE_REGISTER || fn === FN_WRITE_REGISTERS) return 8;
  throw new RangeError(`Modbus function ${hex(fn)} is not supported by this driver (only 06 and 16)`);
}

/**
 * Checks a complete response against the request it answers. Returns when
 * it is the confirmation; throws ModbusExceptionError when the device
 * refused, ModbusFrameError when the bytes are not our answer.
 */
export function validateResponse(request: Uint8Array, response: Uint8Array): void {
  const addr = request[0]!;
  const fn = request[1]!;
  if (!crcOk(response)) throw new ModbusFrameError('crc', `Modbus answer with a bad CRC: ${Buffer.from(response).toString('hex')}`);
  if (response[0] !== addr) throw new ModbusFrameError('address', `Modbus answer from address ${response[0]}, expected ${addr}`);
  if (response[1] === (fn | 0x80)) {
    if (response.length !== 5) throw new ModbusFrameError('length', `Modbus exception answer of ${response.length} bytes, expected 5`);
    throw new ModbusExceptionError(addr, fn, response[2]!);
  }
  if (response[1] !== fn) throw new ModbusFrameError('function', `Modbus answer for function ${hex(response[1]!)}, expected ${hex(fn)}`);
  const len = answerLength(fn);
  if (response.length !== len) throw new ModbusFrameError('length', `Modbus answer of ${response.length} bytes, expected ${len}`);
  // 06 echoes register and value; 16 repeats start and count: in both cases bytes 2..5 of the request.
  for (let i = 2; i < 6; i++) {
    if (response[i] !== request[i]) throw new ModbusFrameError('echo', `Modbus answer does not confirm this request: ${Buffer.from(response).toString('hex')}`);
  }
}

// ------------------------------------------------------------------- bus

export interface ModbusBusOptions {
  /** How long to wait for each answer, from the moment the request is handed to the line. */
  timeoutMs?: number;
  /** Further attempts after a timeout (so up to retries+1 requests on the wire). */
  retries?: number;
  /**
   * Silence kept after an answer (or a timeout) before the next request: RTU
   * needs ≥3.5 character times between frames, ~4 ms at 9600 baud, and
   * it lets a slow device's late answer arrive before we talk again.
   */
  gapMs?: number;
}

export interface ModbusCounters {
  /** Requests accepted by send()/writeRegister(s). */
  requests: number;
  /** Extra attempts made after a timeout. */
  retries: number;
  /** Attempts that got no valid answer in time. */
  timeouts: number;
  /** Candidate answers (our address and function) whose CRC did not match. */
  crcErrors: number;
  /** Valid frames that were not the answer to the request in flight (e.g. a late answer to an earlier one). */
  stray: number;
  /** Bytes thrown away while looking for the start of an answer. */
  garbageBytes: number;
  /** Exception answers (the device refused). */
  exceptions: number;
  /** Requests finally rejected (timeouts after all retries, exceptions, line refusals). */
  failures: number;
}

interface Job {
  frame: Buffer;
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * The master end of one RS-485 bus. Requests from anywhere in the hub are
 * queued FIFO and sent one at a time: on a half-duplex bus two requests in
 * flight would collide, and the answers carry no id to tell them apart.
 */
export class ModbusBus {
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly gapMs: number;
  private readonly queue: Job[] = [];
  private busy = false;
  private closed = false;
  private rx: Buffer = Buffer.alloc(0);
  /** Set while an attempt waits; called by the receiver with the answer or exception. */
  private waiting?: { request: Buffer; settle: (e?: Error) => void };
  private readonly unsubscribe: () => void;
  private readonly c: ModbusCounters = { requests: 0, retries: 0, timeouts: 0, crcErrors: 0, stray: 0, garbageBytes: 0, exceptions: 0, failures: 0 };

  constructor(
    private readonly link: ByteLink,
    opts: ModbusBusOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 300;
    this.retries = opts.retries ?? 2;
    this.gapMs = opts.gapMs ?? 5;
    checkInt('timeoutMs', this.timeoutMs, 1, 60_000);
    checkInt('retries', this.retries, 0, 100);
    checkInt('gapMs', this.gapMs, 0, 10_000);
    this.unsubscribe = link.onData((chunk) => this.receive(chunk));
  }

  /** A copy, for health reports. */
  get counters(): ModbusCounters {
    return { ...this.c };
  }

  /** Requests waiting plus the one in flight. */
  get pending(): number {
    return this.queue.length + (this.busy ? 1 : 0);
  }

  writeRegister(addr: number, reg: number, value: number): Promise<void> {
    return this.send(writeRegisterFrame(addr, reg, value));
  }

  writeRegisters(addr: number, start: number, values: number[]): Promise<void> {
    return this.send(writeRegistersFrame(addr, start, values));
  }

  /**
   * Sends a ready-made 06 or 16 frame (e.g. from led485Frames) and resolves
   * when the device confirmed it. Rejects with ModbusExceptionError (device
   * refused, not retried: asking again gets the same no),
   * ModbusTimeoutError (no valid answer after all attempts), or the line's
   * own error when it refused the bytes.
   */
  send(frame: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new Error('Modbus bus is closed'));
    if (!crcOk(frame)) return Promise.reject(new ModbusFrameError('crc', `refusing to send a frame with a bad CRC: ${frame.toString('hex')}`));
    try {
      answerLength(frame[1]!);
      checkAddress(frame[0]!);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    this.c.requests++;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ frame, resolve, reject });
      void this.pump();
    });
  }

  /** Stops listening; queued requests and the one in flight are rejected. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    const err = new Error('Modbus bus is closed');
    for (const j of this.queue.splice(0)) j.reject(err);
    this.waiting?.settle(err);
  }

  // ----------------------------------------------------------------

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length && !this.closed) {
        const job = this.queue.shift()!;
        try {
          await this.transact(job.frame);
          job.resolve();
        } catch (e) {
          this.c.failures++;
          job.reject(e as Error);
        }
        // Bus silence before the next frame (see gapMs).
        if (this.gapMs > 0) await new Promise((r) => setTimeout(r, this.gapMs));
      }
    } finally {
      this.busy = false;
    }
  }

  private async transact(frame: Buffer): Promise<void> {
    const addr = frame[0]!;
    const attempts = this.retries + 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.closed) throw new Error('Modbus bus is closed');
      if (attempt > 1) this.c.retries++;
      const outcome = await this.attempt(frame);
      if (outcome === 'answered') return;
      this.c.timeouts++;
    }
    const line = this.link.isOpen ? '' : ' (the serial line is not open)';
    throw new ModbusTimeoutError(addr, attempts, `Modbus address ${addr} did not answer: no valid response within ${this.timeoutMs} ms, ${attempts} attempt(s)${line}`);
  }

  /** One request on the wire; resolves 'answered', 'timeout', or throws (exception answer, line refused the write). */
  private attempt(frame: Buffer): Promise<'answered' | 'timeout'> {
    // Bytes left over from before (a late answer, line noise) must not be read as this request's answer.
    this.link.flushInput?.();
    this.rx = Buffer.alloc(0);
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.waiting = undefined;
        fn();
      };
      // The timer runs from the hand-over to the line, so a write that waits in the
      // line's queue (device unplugged) is covered too: the caller never waits forever.
      const timer = setTimeout(() => finish(() => resolve('timeout')), this.timeoutMs);
      this.waiting = { request: frame, settle: (e) => finish(() => (e ? reject(e) : resolve('answered'))) };
      // One key for the whole bus: if the line is away, a retry (or the next request)
      // replaces the unsent copy rather than piling up requests to replay later.
      this.link.write(frame, { key: 'modbus' }).catch((e: Error) => finish(() => reject(e)));
    });
  }

  /** Collects bytes and looks for the answer to the request in flight. */
  private receive(chunk: Buffer): void {
    const w = this.waiting;
    if (!w) {
      // Nobody is waiting: whatever this is (a very late answer, noise) is not wanted.
      this.c.garbageBytes += chunk.length;
      return;
    }
    this.rx = this.rx.length ? Buffer.concat([this.rx, chunk]) : chunk;
    const addr = w.request[0]!;
    const fn = w.request[1]!;
    for (;;) {
      // Skip to a byte that could start our answer.
      let i = 0;
      while (i < this.rx.length && this.rx[i] !== addr) i++;
      this.c.garbageBytes += i;
      this.rx = this.rx.subarray(i);
      if (this.rx.length < 2) return;
      const f = this.rx[1]!;
      const len = f === fn ? answerLength(fn) : f === (fn | 0x80) ? 5 : 0;
      if (len === 0) {
        // Our address byte but not our function: not a frame start.
        this.c.garbageBytes++;
        this.rx = this.rx.subarray(1);
        continue;
      }
      if (this.rx.length < len) return; // the rest is still on its way
      const candidate = this.rx.subarray(0, len);
      try {
        validateResponse(w.request, candidate);
        this.rx = this.rx.subarray(len);
        w.settle();
        return;
      } catch (e) {
        if (e instanceof ModbusExceptionError) {
          this.c.exceptions++;
          this.rx = this.rx.subarray(len);
          w.settle(e);
          return;
        }
        if (e instanceof ModbusFrameError && e.reason === 'crc') {
          // Corrupt, or an accidental match inside noise: resynchronise one byte further on.
          this.c.crcErrors++;
          this.rx = this.rx.subarray(1);
          continue;
        }
        // A well-formed frame for something else (a late answer to an earlier request).
        this.c.stray++;
        this.rx = this.rx.subarray(len);
      }
    }
  }
}
