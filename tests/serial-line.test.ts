import { SerialPort, SerialPortMock } from 'serialport';
import { afterEach, describe, expect, it } from 'vitest';

// The binding serialport itself uses (importing @serialport/binding-mock directly can load a second copy, with its own ports).
const MockBinding = SerialPortMock.binding;
import { LineWriteError, SerialLine } from '../drivers/serial/line.js';
import { PtyPair } from './helpers/pty.js';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Deadlines for a loaded machine (CI runners are shared): a passing run never waits for them.
const until = async (f: () => boolean, ms = 20_000, what: string | (() => string) = 'a condition') => {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('SerialLine on the mock binding', () => {
  const lines: SerialLine[] = [];
  afterEach(async () => {
    for (const l of lines.splice(0)) await l.stop();
    MockBinding.reset();
  });
  const line = (path: string, o: Partial<ConstructorParameters<typeof SerialLine>[0]> = {}) => {
    const l = new SerialLine({ path, binding: SerialPortMock.binding, backoffMs: { min: 20, max: 80 }, ...o });
    lines.push(l);
    return l;
  };
  const recording = (l: SerialLine) => (l as unknown as { port: { port: { recording: Buffer } } }).port.port.recording;

  it('a device absent at boot: writes wait, and are sent in order once it appears', async () => {
    const l = line('/dev/mock-absent');
    l.start();
    const a = l.write(Buffer.from('one\n'));
    const b = l.write(Buffer.from('two\n'));
    await new Promise((r) => setTimeout(r, 100));
    expect(l.isOpen).toBe(false);
    expect(l.stats().openFailures).toBeGreaterThan(0);
    MockBinding.createPort('/dev/mock-absent', { echo: false, record: true });
    await Promise.all([a, b]);
    expect(recording(l).toString()).toBe('one\ntwo\n');
  });

  it('newest state wins for keyed writes; the queue is bounded and says which write it dropped', async () => {
    const l = line('/dev/mock-later', { queueLimit: 2 });
    l.start();
    const s1 = l.write(Buffer.from('S1;'), { key: 'screen' });
    const s2 = l.write(Buffer.from('S2;'), { key: 'screen' });
    const t1 = l.write(Buffer.from('T1;'));
    const t2 = l.write(Buffer.from('T2;'));
    await expect(s1).rejects.toSatisfy((e: unknown) => e instanceof LineWriteError && e.code === 'overflow');
    await expect(s2).rejects.toBeInstanceOf(LineWriteError);
    MockBinding.createPort('/dev/mock-later', { echo: false, record: true });
    await Promise.all([t1, t2]);
    expect(recording(l).toString()).toBe('T1;T2;');
  });

  it('keyed writes collapse: only the newest screen goes out', async () => {
    const l = line('/dev/mock-keyed');
    l.start();
    const w = [1, 2, 3].map((i) => l.write(Buffer.from(`S${i};`), { key: 'screen' }));
    const other = l.write(Buffer.from('X;'));
    MockBinding.createPort('/dev/mock-keyed', { echo: false, record: true });
    await Promise.all([...w, other]);
    expect(recording(l).toString()).toBe('S3;X;');
  });

  it('a keyed write made while the same key is being sent goes out after it, not merged into bytes already sent', async () => {
    MockBinding.createPort('/dev/mock-inflight', { echo: false, record: true });
    const l = line('/dev/mock-inflight');
    l.start();
    await until(() => l.isOpen);
    // S1 is handed to the port at once (in flight until drained); S2 and S3 arrive before it is drained.
    const w = [1, 2, 3].map((i) => l.write(Buffer.from(`S${i};`), { key: 'screen' }));
    await Promise.all(w);
    // The keypad ends on the newest screen; S2 was overtaken while it waited, so it is not sent.
    expect(recording(l).toString()).toBe('S1;S3;');
  });

  it('an expired write is refused, not printed an hour late', async () => {
    const l = line('/dev/mock-expire');
    l.start();
    const w = l.write(Buffer.from('ticket'), { expireMs: 30 });
    await new Promise((r) => setTimeout(r, 60));
    MockBinding.createPort('/dev/mock-expire', { echo: false, record: true });
    await expect(w).rejects.toSatisfy((e: unknown) => e instanceof LineWriteError && e.code === 'expired');
  });

  it('stop refuses what is still queued', async () => {
    const l = line('/dev/mock-never');
    l.start();
    const w = l.write(Buffer.from('x'));
    await l.stop();
    await expect(w).rejects.toSatisfy((e: unknown) => e instanceof LineWriteError && e.code === 'stopped');
  });
});

describe('SerialLine over a real pseudo-terminal', () => {
  it('unplug and replug: offline then online, reads again, and writes made while away arrive', async () => {
    const pty = await new PtyPair().plug();
    const line = new SerialLine({ path: pty.hub, backoffMs: { min: 50, max: 200 } });
    const states: boolean[] = [];
    line.onState((s) => states.push(s));
    const got: Buffer[] = [];
    line.onData((c) => got.push(c));
    line.start();
    await until(() => line.isOpen);
    let dev = new SerialPort({ path: pty.device, baudRate: 9600 });
    const fromHub: Buffer[] = [];
    dev.on('data', (c: Buffer) => fromHub.push(c));
    await new Promise((r) => dev.once('open', r));
    await line.write(Buffer.from('hello\n'));
    dev.write('hi hub\n');
    await until(() => Buffer.concat(got).toString() === 'hi hub\n' && Buffer.concat(fromHub).toString() === 'hello\n', 20_000, () => `both greetings (the hub got ${JSON.stringify(Buffer.concat(got).toString())}, the device ${JSON.stringify(Buffer.concat(fromHub).toString())})`);

    await pty.unplug();
    await until(() => !line.isOpen);
    const away = line.write(Buffer.from('while away\n'), { key: 'screen' });
    const away2 = line.write(Buffer.from('newest screen\n'), { key: 'screen' });
    await new Promise((r) => setTimeout(r, 300));
    // The cable comes back into a device that hears from the first byte.
    const sink = join(mkdtempSync(join(tmpdir(), 'qhub-sink-')), 'device.bin');
    await pty.plugToFile(sink);
    await until(() => line.isOpen);
    await Promise.all([away, away2]);
    await until(() => existsSync(sink) && readFileSync(sink, 'utf8') === 'newest screen\n');
    expect(states).toEqual([true, false, true]);
    await line.stop();
    await new Promise((r) => dev.close(() => r(undefined)));
    await pty.unplug();
  });

  it('unplugged while a write is stuck in the port (the far end not reading): the line sends again after the replug', async () => {
    const pty = await new PtyPair().plug();
    const line = new SerialLine({ path: pty.hub, backoffMs: { min: 50, max: 200 } });
    const states: boolean[] = [];
    line.onState((s) => states.push(s));
    line.start();
    await until(() => line.isOpen);
    // socat stops reading: 256 KiB is far more than the pty's buffers take, so this write stays in the port, never drained.
    pty.freeze();
    const stuck = line.write(Buffer.alloc(256 * 1024, 0x41));
    const after = line.write(Buffer.from('after the replug\n'));
    expect(line.stats().bytesOut).toBe(0);
    await pty.pull();
    await until(() => !line.isOpen, 20_000, 'the line to notice the unplug');
    const sink = join(mkdtempSync(join(tmpdir(), 'qhub-sink-')), 'device.bin');
    await pty.plugToFile(sink);
    // The write cut off by the unplug is sent again whole, then the next one: nothing waits for the dead port.
    await Promise.all([stuck, after]);
    await until(() => existsSync(sink) && readFileSync(sink).length === 256 * 1024 + 'after the replug\n'.length, 20_000, () => `both writes in the device (${existsSync(sink) ? readFileSync(sink).length : 0} bytes so far; ${JSON.stringify(line.stats())})`);
    expect(readFileSync(sink).subarray(-17).toString()).toBe('after the replug\n');
    expect(states).toEqual([true, false, true]);
    await line.stop();
    await pty.unplug();
  });
});
