/**
 * Modbus RTU master + LED-485 window displays.
 *  1. Golden frames, byte for byte (CRCs from a bitwise reference written here
 *     and hard-coded, so a wrong table in the driver cannot agree with itself).
 *  2. The seven-segment glyphs and led485Frames.
 *  3. ModbusBus on SerialPortMock: timeout + retry, exceptions, chunked answers, FIFO.
 *  4. A real pty pair (socat) with the LED-485 bus emulator behind SerialLine.
 */
import { SerialPortMock } from 'serialport';

const MockBinding = SerialPortMock.binding;
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PtyPair } from './helpers/pty.js';
import {
  ModbusBus,
  ModbusExceptionError,
  ModbusFrameError,
  ModbusTimeoutError,
  crc16modbus,
  validateResponse,
  writeRegisterFrame,
  writeRegistersFrame,
} from '../drivers/modbus.js';
import { SerialLine } from '../drivers/serial/line.js';
import type { ByteLink } from '../drivers/serial/types.js';
import { led485Frames, segments, unshowable } from '../drivers/sevenseg.js';
import { LedBusEmulator } from './emulators/modbus-slave.js';

/** The CRC exactly as the Modbus spec describes it: XOR in a byte, shift 8 times, XOR 0xA001 when a 1 falls out. */
function referenceCrc(bytes: number[]): number {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

/** body + reference CRC (low byte first). */
function sealed(bodyHex: string): Buffer {
  const body = [...hex(bodyHex)];
  const c = referenceCrc(body);
  return Buffer.from([...body, c & 0xff, c >> 8]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

// ----------------------------------------------------------------------------

describe('golden frames', () => {
  it('CRC matches the published example 01 03 00 00 00 0A C5 CD', () => {
    const body = [0x01, 0x03, 0x00, 0x00, 0x00, 0x0a];
    expect(referenceCrc(body)).toBe(0xcdc5);
    expect(crc16modbus(Buffer.from(body))).toBe(0xcdc5);
  });

  it('fn06: address 1 shows 42 → 01 06 00 00 00 2A 08 15', () => {
    const f = writeRegisterFrame(1, 0x0000, 42);
    expect(f).toEqual(hex('01 06 00 00 00 2A 08 15'));
    expect(f).toEqual(sealed('01 06 00 00 00 2A'));
  });

  it('fn06: address 2 shows 17 → 02 06 00 00 00 11 49 F5', () => {
    expect(writeRegisterFrame(2, 0, 17)).toEqual(hex('02 06 00 00 00 11 49 F5'));
    expect(writeRegisterFrame(2, 0, 17)).toEqual(sealed('02 06 00 00 00 11'));
  });

  it('fn16: "A042" at 0x0080 → 01 10 00 80 00 02 04 77 3F 66 5B BA 2C', () => {
    const golden = hex('01 10 00 80 00 02 04 77 3F 66 5B BA 2C');
    expect(golden).toEqual(sealed('01 10 00 80 00 02 04 77 3F 66 5B'));
    expect(writeRegistersFrame(1, 0x80, [0x773f, 0x665b])).toEqual(golden);
    expect(led485Frames(1, 'A042', 4)).toEqual([golden]);
  });

  it('led485Frames: "17" on address 2 uses the number register, blank uses zero segments', () => {
    expect(led485Frames(2, '17', 4)).toEqual([hex('02 06 00 00 00 11 49 F5')]);
    const blank = hex('01 10 00 80 00 02 04 00 00 00 00 FB CF');
    expect(blank).toEqual(sealed('01 10 00 80 00 02 04 00 00 00 00'));
    expect(led485Frames(1, null, 4)).toEqual([blank]);
    expect(led485Frames(1, '', 4)).toEqual([blank]);
    expect(led485Frames(1, '   ', 4)).toEqual([blank]);
  });

  it('frame builders refuse values that do not fit a frame', () => {
    expect(() => writeRegisterFrame(0, 0, 1)).toThrow(/slave address/);
    expect(() => writeRegisterFrame(248, 0, 1)).toThrow(/slave address/);
    expect(() => writeRegisterFrame(1, 0, 70000)).toThrow(/register value/);
    expect(() => writeRegistersFrame(1, 0x80, [])).toThrow(/register count/);
    expect(() => writeRegistersFrame(1, 0xffff, [1, 2])).toThrow(/start register/);
  });
});

describe('validateResponse', () => {
  const req = writeRegisterFrame(1, 0, 42);

  it('accepts the echo of a fn06 and the addr/fn/start/count answer of a fn16', () => {
    expect(() => validateResponse(req, req)).not.toThrow();
    const req16 = writeRegistersFrame(1, 0x80, [0x773f, 0x665b]);
    expect(() => validateResponse(req16, sealed('01 10 00 80 00 02'))).not.toThrow();
  });

  it('an exception answer becomes an error naming the code', () => {
    const ex = hex('01 86 02 C3 A1');
    expect(ex).toEqual(sealed('01 86 02'));
    let err: unknown;
    try {
      validateResponse(req, ex);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModbusExceptionError);
    expect((err as ModbusExceptionError).code).toBe(2);
    expect((err as Error).message).toMatch(/address 1 .*exception 0x02 \(illegal data address\)/);
  });

  it('rejects a bad CRC, another address, another function and a confirmation of something else', () => {
    const badCrc = Buffer.from(req);
    badCrc[7] = badCrc[7]! ^ 0xff;
    const reason = (resp: Buffer) => {
      try {
        validateResponse(req, resp);
        return 'accepted';
      } catch (e) {
        return e instanceof ModbusFrameError ? e.reason : String(e);
      }
    };
    expect(reason(badCrc)).toBe('crc');
    expect(reason(sealed('02 06 00 00 00 2A'))).toBe('address');
    expect(reason(sealed('01 03 00 00 00 2A'))).toBe('function');
    expect(reason(sealed('01 06 00 00 00 2B'))).toBe('echo');
  });
});

describe('seven segments', () => {
  it('digits use the standard encoding (bit0 = a … bit6 = g)', () => {
    expect(segments('0123456789', 10)).toEqual([0x3f, 0x06, 0x5b, 0x4f, 0x66, 0x6d, 0x7d, 0x07, 0x7f, 0x6f]);
  });

  it('right-aligns and pads with blanks; a dot lights the previous dp', () => {
    expect(segments('7', 4)).toEqual([0, 0, 0, 0x07]);
    expect(segments('A-1', 4)).toEqual([0, 0x77, 0x40, 0x06]);
    expect(segments('1.5', 4)).toEqual([0, 0, 0x86, 0x6d]);
    expect(segments('b', 2)).toEqual(segments('B', 2));
  });

  it('letters that look like digits are drawn so they differ: O, I, V', () => {
    expect(segments('O', 1)).not.toEqual(segments('0', 1));
    expect(segments('I', 1)).not.toEqual(segments('1', 1));
    expect(segments('V', 1)).not.toEqual(segments('U', 1));
    expect(segments('K', 1)).not.toEqual(segments('H', 1));
  });

  it('W and X have no readable form: drawn as "-", and reported by unshowable()', () => {
    expect(segments('W12', 4)).toEqual([0, 0x40, 0x06, 0x5b]);
    expect(segments('X1', 4)).toEqual([0, 0, 0x40, 0x06]);
    expect(unshowable('W-X 9.')).toEqual(['W', 'X']);
    expect(unshowable('A042')).toEqual([]);
  });

  it('text longer than the display throws instead of showing a cut (different) ticket', () => {
    expect(() => segments('A1042', 4)).toThrow(/needs 5 characters, the display has 4/);
    expect(() => led485Frames(1, '12345', 4)).toThrow(/display has 4/);
  });

  it('a leading zero keeps its segments (number mode would drop it); odd widths pad the last register', () => {
    expect(led485Frames(1, '007', 4)).toEqual([writeRegistersFrame(1, 0x80, [0x003f, 0x3f07])]);
    expect(led485Frames(3, 'A7', 3)).toEqual([writeRegistersFrame(3, 0x80, [0x0077, 0x0700])]);
  });
});

// ----------------------------------------------------------------------------

/** A ByteLink straight over a SerialPortMock (no queueing: these tests keep the port open). */
function mockLink(port: SerialPortMock): ByteLink {
  return {
    get isOpen() {
      return port.isOpen;
    },
    write: (data) => new Promise((res, rej) => port.write(data, (e) => (e ? rej(e) : port.drain((d) => (d ? rej(d) : res()))))),
    onData: (fn) => {
      port.on('data', fn);
      return () => port.off('data', fn);
    },
    onState: (fn) => {
      const up = () => fn(true);
      const down = () => fn(false);
      port.on('open', up);
      port.on('close', down);
      return () => {
        port.off('open', up);
        port.off('close', down);
      };
    },
  };
}

describe('ModbusBus on SerialPortMock', () => {
  let port: SerialPortMock;
  let bus: ModbusBus;
  let n = 0;

  async function setup(opts: { timeoutMs?: number; retries?: number } = {}) {
    const path = `/dev/mock-modbus-${n++}`;
    MockBinding.createPort(path, { echo: false, record: true });
    await new Promise<void>((res, rej) => {
      port = new SerialPortMock({ path, baudRate: 9600 }, (e) => (e ? rej(e) : res()));
    });
    bus = new ModbusBus(mockLink(port), { gapMs: 0, ...opts });
  }
  const recording = () => port.port!.recording;
  const answer = (b: Buffer) => port.port!.emitData(b);

  afterEach(async () => {
    bus.close();
    if (port.isOpen) await new Promise((r) => port.close(r));
    MockBinding.reset();
  });

  it('an unanswered request is sent again after the timeout, and the answer to the retry completes it', async () => {
    await setup({ timeoutMs: 60, retries: 2 });
    const frame = writeRegisterFrame(1, 0, 42);
    const p = bus.writeRegister(1, 0, 42);
    await waitFor(() => recording().length === 8, 'first attempt');
    await sleep(30);
    expect(recording().length).toBe(8); // still waiting, no early resend
    await waitFor(() => recording().length === 16, 'retry');
    expect(recording()).toEqual(Buffer.concat([frame, frame]));
    answer(frame); // fn06 answer = echo
    await expect(p).resolves.toBeUndefined();
    expect(bus.counters).toMatchObject({ requests: 1, retries: 1, timeouts: 1, failures: 0 });
  });

  it('after timeout × (retries+1) without an answer it rejects naming the address', async () => {
    await setup({ timeoutMs: 50, retries: 2 });
    const t0 = Date.now();
    const err = await bus.writeRegister(7, 0, 1).catch((e: Error) => e);
    const took = Date.now() - t0;
    expect(err).toBeInstanceOf(ModbusTimeoutError);
    expect((err as Error).message).toMatch(/address 7 did not answer/);
    expect(took).toBeGreaterThanOrEqual(145);
    expect(took).toBeLessThan(1000);
    expect(recording().length).toBe(3 * 8);
    expect(bus.counters).toMatchObject({ retries: 2, timeouts: 3, failures: 1 });
  });

  it('an exception answer rejects at once with the code, without retrying', async () => {
    await setup({ timeoutMs: 500 });
    const p = bus.writeRegister(1, 9, 1).catch((e: Error) => e);
    await waitFor(() => recording().length === 8, 'request');
    answer(hex('01 86 02 C3 A1'));
    const err = await p;
    expect(err).toBeInstanceOf(ModbusExceptionError);
    expect((err as ModbusExceptionError).code).toBe(2);
    expect((err as Error).message).toMatch(/exception 0x02 \(illegal data address\)/);
    await sleep(50);
    expect(recording().length).toBe(8);
    expect(bus.counters.exceptions).toBe(1);
  });

  it('reassembles an answer that comes in pieces, after noise and a corrupt answer', async () => {
    await setup({ timeoutMs: 500 });
    const p = bus.writeRegisters(1, 0x80, [0x773f, 0x665b]);
    await waitFor(() => recording().length === 13, 'request');
    const good = sealed('01 10 00 80 00 02');
    const corrupt = Buffer.from(good);
    corrupt[7] = corrupt[7]! ^ 0x55;
    answer(hex('00 ff 13')); // line noise
    answer(corrupt);
    await sleep(5);
    for (const piece of [good.subarray(0, 1), good.subarray(1, 5), good.subarray(5)]) {
      answer(piece);
      await sleep(5);
    }
    await expect(p).resolves.toBeUndefined();
    const c = bus.counters;
    expect(c.crcErrors).toBe(1);
    expect(c.garbageBytes).toBeGreaterThanOrEqual(3);
    expect(c.timeouts).toBe(0);
    expect(recording().length).toBe(13); // answered first time: no resend
  });

  it('queues concurrent requests: the second goes out only after the first is answered', async () => {
    await setup({ timeoutMs: 500 });
    const a = writeRegisterFrame(1, 0, 1);
    const b = writeRegisterFrame(2, 0, 2);
    const done: string[] = [];
    const pa = bus.writeRegister(1, 0, 1).then(() => done.push('a'));
    const pb = bus.writeRegister(2, 0, 2).then(() => done.push('b'));
    await waitFor(() => recording().length >= 8, 'first request');
    await sleep(40);
    expect(recording()).toEqual(a);
    expect(bus.pending).toBe(2);
    answer(a);
    await waitFor(() => recording().length === 16, 'second request');
    expect(recording().subarray(8)).toEqual(b);
    answer(b);
    await Promise.all([pa, pb]);
    expect(done).toEqual(['a', 'b']);
  });

  it('an answer from the wrong address is not taken as the confirmation', async () => {
    await setup({ timeoutMs: 80, retries: 0 });
    const p = bus.writeRegister(1, 0, 5).catch((e: Error) => e);
    await waitFor(() => recording().length === 8, 'request');
    answer(writeRegisterFrame(2, 0, 5));
    expect(await p).toBeInstanceOf(ModbusTimeoutError);
  });
});

describe('ModbusBus when the line is away', () => {
  it('does not hang: a write the line keeps queued times out and says the line is not open', async () => {
    let written = 0;
    const away: ByteLink = {
      isOpen: false,
      write: () => {
        written++;
        return new Promise<void>(() => {}); // waits for a device that never comes back
      },
      onData: () => () => {},
      onState: () => () => {},
    };
    const bus = new ModbusBus(away, { timeoutMs: 40, retries: 1, gapMs: 0 });
    const err = await bus.writeRegister(3, 0, 1).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ModbusTimeoutError);
    expect((err as Error).message).toMatch(/address 3 did not answer.*serial line is not open/);
    expect(written).toBe(2);
    bus.close();
  });

  it("passes on the line's refusal of a write instead of waiting", async () => {
    const refusing: ByteLink = {
      isOpen: true,
      write: () => Promise.reject(new Error('queue overflow')),
      onData: () => () => {},
      onState: () => () => {},
    };
    const bus = new ModbusBus(refusing, { timeoutMs: 5000 });
    const t0 = Date.now();
    await expect(bus.writeRegister(1, 0, 1)).rejects.toThrow(/queue overflow/);
    expect(Date.now() - t0).toBeLessThan(1000);
    bus.close();
  });
});

// ----------------------------------------------------------------------------

describe('LED-485 displays over a real pty pair', () => {
  const pty = new PtyPair();
  let line: SerialLine;
  let bus: ModbusBus;
  let emu: LedBusEmulator;

  beforeAll(async () => {
    await pty.plug();
    emu = new LedBusEmulator(pty.device, [{ address: 1 }, { address: 2 }]);
    await emu.ready();
    line = new SerialLine({ path: pty.hub, baudRate: 9600 });
    line.start();
    await waitFor(() => line.isOpen, 'SerialLine open', 5000);
    bus = new ModbusBus(line); // defaults: 300 ms, 2 retries
  });

  afterAll(async () => {
    bus?.close();
    await line?.stop();
    await emu?.close();
    await pty.unplug();
  });

  it('two displays on one bus show "A042" and "17"', async () => {
    for (const f of led485Frames(1, 'A042', 4)) await bus.send(f);
    for (const f of led485Frames(2, '17', 4)) await bus.send(f);
    expect(emu.shown(1)).toBe('A042');
    expect(emu.shown(2)).toBe('17');
    for (const f of led485Frames(1, null, 4)) await bus.send(f);
    expect(emu.shown(1)).toBeNull();
    expect(emu.shown(2)).toBe('17');
  });

  it('20 concurrent writes: in order, and never a request before the previous answer', async () => {
    const from = emu.history.length;
    const writes = Array.from({ length: 20 }, (_, i) => bus.writeRegister(1 + (i % 2), 0, 100 + i));
    await Promise.all(writes);
    const seen = emu.history.slice(from);
    expect(seen.map((e) => e.values[0])).toEqual(Array.from({ length: 20 }, (_, i) => 100 + i));
    expect(seen.every((e) => e.outcome === 'ok' && !e.overlapped)).toBe(true);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.receivedAt).toBeGreaterThan(seen[i - 1]!.answeredAt!);
    expect(emu.overlaps).toBe(0);
    expect(emu.shown(1)).toBe('118');
    expect(emu.shown(2)).toBe('119');
  });

  it('(control) the emulator does notice a master that does not wait', async () => {
    const before = emu.overlaps;
    const from = emu.history.length;
    // A display slow enough that its answer is surely still pending when the second request comes, however busy the machine.
    emu.replyDelay(2000);
    try {
      // Straight onto the line, past the bus: a request, and another as soon as the display has read the first.
      await line.write(writeRegisterFrame(1, 0, 1));
      await vi.waitFor(() => expect(emu.history.length).toBeGreaterThan(from), { timeout: 10_000 });
      await line.write(writeRegisterFrame(1, 0, 2));
      await vi.waitFor(() => expect(emu.overlaps).toBeGreaterThan(before), { timeout: 10_000 });
      // The next test starts once both answers went out (into an idle bus, which ignores them).
      await vi.waitFor(() => expect(emu.history.slice(from).filter((e) => e.answeredAt !== undefined)).toHaveLength(2), { timeout: 10_000 });
    } finally {
      emu.replyDelay(15);
    }
  });

  it('a request the display did not hear is delivered by the retry', async () => {
    const from = emu.history.length;
    const retries = bus.counters.retries;
    emu.drop(1);
    await bus.writeRegister(2, 0, 4242);
    expect(emu.shown(2)).toBe('4242');
    expect(emu.history.slice(from).map((e) => e.outcome)).toEqual(['dropped', 'ok']);
    expect(bus.counters.retries).toBe(retries + 1);
  });

  it('a silent display: rejected naming its address after timeout × (retries+1)', async () => {
    const from = emu.history.length;
    emu.silent(true);
    try {
      const t0 = Date.now();
      const err = await bus.writeRegister(2, 0, 9).catch((e: Error) => e);
      const took = Date.now() - t0;
      expect(err).toBeInstanceOf(ModbusTimeoutError);
      expect((err as Error).message).toMatch(/address 2 did not answer/);
      expect(took).toBeGreaterThanOrEqual(900 - 5);
      expect(took).toBeLessThan(2000);
      expect(emu.history.slice(from).map((e) => e.outcome)).toEqual(['dropped', 'dropped', 'dropped']);
      expect(emu.shown(2)).toBe('4242');
    } finally {
      emu.silent(false);
    }
    // The bus is not stuck afterwards.
    await bus.writeRegister(2, 0, 8);
    expect(emu.shown(2)).toBe('8');
  });

  it('a register the display does not have: its exception 0x02 reaches the caller', async () => {
    await expect(bus.writeRegister(1, 0x0005, 1)).rejects.toThrow(/address 1 refused function 0x06: exception 0x02 \(illegal data address\)/);
  });
});
