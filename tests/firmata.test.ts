/**
 * The dispenser's Arduino panel (drivers/firmata.ts): presses counted once
 * however the contact bounces or however long it is held, the LED and
 * buzzer reaching the board, and the panel coming back by itself after the
 * USB cable is pulled and plugged in again.
 *
 * The board is tests/emulators/firmata-board.ts (StandardFirmata on an Uno,
 * byte for byte) at the far end of a socat pseudo-terminal pair; the hub
 * side is the real SerialLine on the near end, as in production. Unplug =
 * socat killed; replug = a new socat on the same link paths with a freshly
 * "reset" board behind it.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SerialPortMock } from 'serialport';
import ts from 'typescript';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { PtyPair } from './helpers/pty.js';
import { FirmataPanel, PressDebouncer } from '../drivers/firmata.js';
import { SerialLine } from '../drivers/serial/line.js';
import type { ByteLink } from '../drivers/serial/types.js';
import { FirmataBoard, MODE } from './emulators/firmata-board.js';
import { captureLog } from './helpers/logs.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// Deadlines sized for a loaded machine (shared CI runners, other suites beside this one): a passing wait ends at its condition.
async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

// ---------------------------------------------------------------------------

describe('PressDebouncer (the timing alone)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function debouncer(ms = 30) {
    vi.useFakeTimers();
    const presses: number[] = [];
    const d = new PressDebouncer(ms, () => presses.push(Date.now()));
    return { d, presses };
  }

  it('a contact chattering on closing makes one press, reported debounceMs after it settles', () => {
    const { d, presses } = debouncer();
    const t0 = Date.now();
    for (let i = 0; i < 8; i++) {
      d.input(i % 2 === 0); // 8 toggles, 2 ms apart: down up down up …
      vi.advanceTimersByTime(2);
    }
    d.input(true); // settles closed at t0 + 16
    vi.advanceTimersByTime(29);
    expect(presses).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(presses).toEqual([t0 + 16 + 30]);
    vi.advanceTimersByTime(5000);
    expect(presses).toHaveLength(1);
  });

  it('a contact closed for less than debounceMs is no press', () => {
    const { d, presses } = debouncer();
    d.input(true);
    vi.advanceTimersByTime(20);
    d.input(false);
    vi.advanceTimersByTime(1000);
    expect(presses).toHaveLength(0);
  });

  it('a button held for minutes is one press; chatter on release makes no second one', () => {
    const { d, presses } = debouncer();
    d.input(true);
    vi.advanceTimersByTime(120_000);
    expect(presses).toHaveLength(1);
    for (let i = 0; i < 6; i++) {
      d.input(i % 2 === 1); // up down up down …, each shorter than 30 ms
      vi.advanceTimersByTime(3);
    }
    d.input(true);
    vi.advanceTimersByTime(1000);
    expect(presses).toHaveLength(1);
  });

  it('the next press counts only after a release steady for debounceMs', () => {
    const { d, presses } = debouncer();
    d.input(true);
    vi.advanceTimersByTime(40);
    d.input(false);
    vi.advanceTimersByTime(29); // released, but not long enough …
    d.input(true);
    vi.advanceTimersByTime(100);
    expect(presses).toHaveLength(1);
    d.input(false);
    vi.advanceTimersByTime(30); // … now it is
    d.input(true);
    vi.advanceTimersByTime(30);
    expect(presses).toHaveLength(2);
  });

  it('dispose leaves no timer and no late press', () => {
    const { d, presses } = debouncer();
    d.input(true);
    expect(vi.getTimerCount()).toBe(1);
    d.dispose();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(presses).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------

describe('FirmataPanel over a mock port: a board that never answers', () => {
  it('asks for the version, starts over after readyTimeoutMs and asks again; never ready; stop leaves no timer', async () => {
    const path = '/dev/qhub-firmata-silent';
    SerialPortMock.binding.createPort(path);
    const line = new SerialLine({ path, baudRate: 57600, binding: SerialPortMock.binding });
    const writes: Buffer[] = [];
    const link: ByteLink = {
      get isOpen() {
        return line.isOpen;
      },
      write: (data, opts) => {
        writes.push(data);
        return line.write(data, opts);
      },
      onData: (fn) => line.onData(fn),
      onState: (fn) => line.onState(fn),
    };
    const { log, lines } = captureLog();
    const panel = new FirmataPanel({ link, buttons: [2], askVersionAfterMs: 100, readyTimeoutMs: 400, log });
    let ready = 0;
    panel.on('ready', () => ready++);
    const base = timeouts();
    panel.start();
    line.start();
    const versionQueries = () => writes.filter((w) => w[0] === 0xf9).length;
    await until(() => versionQueries() >= 1, 'a version query');
    await until(() => versionQueries() >= 2, 'a second version query after the handshake timed out');
    expect(ready).toBe(0);
    expect(panel.isReady).toBe(false);
    expect(lines.some((l) => String(l.msg).includes('no handshake'))).toBe(true);
    await panel.stop();
    await line.stop();
    await sleep(20);
    expect(timeouts()).toBeLessThanOrEqual(base);
    SerialPortMock.binding.reset();
  });

  it('refuses pins that would cut the USB serial or are given twice', () => {
    const link: ByteLink = { isOpen: false, write: async () => {}, onData: () => () => {}, onState: () => () => {} };
    expect(() => new FirmataPanel({ link, buttons: [1, 2] })).toThrow(/pin 1/);
    expect(() => new FirmataPanel({ link, buttons: [2, 3], led: 3 })).toThrow(/twice/);
  });
});

// ---------------------------------------------------------------------------

describe('FirmataPanel over a pty with an emulated Uno', () => {
  const BUTTONS = [2, 3];
  const LED = 13;
  const BUZZER = 8;
  const five = createRequire(import.meta.url)('johnny-five') as typeof import('johnny-five');
  const dir = mkdtempSync(join(tmpdir(), 'qhub-firmata-'));
  const socat = new PtyPair(dir);
  const { log, lines } = captureLog();
  let emu: FirmataBoard;
  let line: SerialLine;
  let panel: FirmataPanel;
  let presses: number[] = [];
  let baseTimeouts = 0;

  beforeAll(async () => {
    await socat.plug();
    emu = await FirmataBoard.open({ path: socat.device });
    line = new SerialLine({ path: socat.hub, baudRate: 57600, backoffMs: { min: 50, max: 300 } }, log);
    // readyTimeoutMs is the product's 10 s: with 3 s, a loaded machine did not finish the handshake (version, capabilities,
    // pin setup) in time, and each new attempt started over, for ever.
    // debounceMs 250 rather than the product's 30: "pulled while held, before the debounce time is over" needs the
    // hub to notice the pull within that time, and a loaded machine can take 100 ms and more to do so. The timing
    // itself is PressDebouncer's test above, with fake timers; here every wait is on what the panel did.
    panel = new FirmataPanel({ link: line, buttons: BUTTONS, led: LED, buzzer: BUZZER, debounceMs: 250, blinkMs: 100, askVersionAfterMs: 300, readyTimeoutMs: 10_000, log });
    panel.on('press', (i) => presses.push(i));
    line.start();
    await until(() => line.isOpen, 'the line to open');
    baseTimeouts = timeouts();
    const ready = once(panel, 'ready', { signal: AbortSignal.timeout(30_000) });
    panel.start();
    await ready;
  });

  afterAll(async () => {
    await panel?.stop();
    await line?.stop();
    await emu?.close();
    await socat.unplug();
    rmSync(dir, { recursive: true, force: true });
  });

  // A failing test shows the log a technician would read: opens, handshakes, losses.
  beforeEach(({ onTestFailed }) => {
    const from = lines.length;
    onTestFailed(() => console.log(lines.slice(from).map((l) => JSON.stringify(l)).join('\n')));
  });

  /** What the panel's debouncer for `pin` is doing (white-box: the one way to wait for "released long enough" without a fixed sleep). */
  const contact = (pin: number): string | undefined =>
    (panel as unknown as { session?: { debouncers: { state: string }[] } }).session?.debouncers[BUTTONS.indexOf(pin)]?.state;

  /** Every contact released and settled: nothing pending, nothing being timed. */
  async function quiet(): Promise<void> {
    await until(() => BUTTONS.every((p) => contact(p) === 'released'), 'every contact released');
    presses = [];
  }

  /** Presses `pin` and holds it until the panel counted the press (however slow the machine), then releases it and waits until the release has settled. */
  async function press(pin: number, holdMs = 0): Promise<void> {
    const n = presses.length;
    emu.set(pin, 0);
    await until(() => presses.length > n, `the press of pin ${pin}`);
    if (holdMs) await sleep(holdMs);
    emu.set(pin, 1);
    await until(() => contact(pin) === 'released', `the release of pin ${pin}`);
  }

  /**
   * Levels applied all at once: the hub reads them together whatever the load (chatter spread over time is
   * PressDebouncer's test above; spread by a loaded machine it would be real presses).
   */
  const burst = (pin: number, levels: (0 | 1)[]) => {
    for (const l of levels) emu.set(pin, l);
  };

  it('sets the button pins up as pulled-up reported inputs, the LED and buzzer as outputs', async () => {
    // "ready" comes once the setup is sent; the board has it a moment later.
    await until(() => BUTTONS.every((pin) => emu.pullup(pin)) && emu.modeOf(BUZZER) === MODE.OUTPUT, 'the pin setup');
    for (const pin of BUTTONS) {
      expect(emu.modeOf(pin)).toBe(MODE.INPUT);
      expect(emu.pullup(pin)).toBe(true);
    }
    expect(emu.reporting.has(0)).toBe(true); // port 0 = pins 0–7, both buttons
    expect(emu.modeOf(LED)).toBe(MODE.OUTPUT);
    expect(emu.modeOf(BUZZER)).toBe(MODE.OUTPUT);
    expect(emu.output(BUZZER)).toBe(0);
    expect(lines.some((l) => l.msg === 'firmata: board ready' && l.firmware === 'StandardFirmata.ino')).toBe(true);
  });

  it('one press makes one press event, for button 1', async () => {
    await quiet();
    await press(2);
    expect(presses).toEqual([1]);
  });

  it('a bouncing press (8 toggles, held, bouncing release) makes one press', async () => {
    await quiet();
    burst(2, [0, 1, 0, 1, 0, 1, 0, 1, 0]);
    await until(() => presses.length > 0, 'the press');
    burst(2, [1, 0, 1, 0, 1]);
    await until(() => contact(2) === 'released', 'the release');
    expect(presses).toEqual([1]);
  });

  it('a spike on a button (closed and open again at once) is not a press', async () => {
    await quiet();
    burst(3, [0, 1]);
    // A press of the other button behind it on the same line: a press the spike had started would be counted first.
    await press(2);
    expect(presses).toEqual([1]);
  });

  it('a button held for 5 s makes one press, and the next press after its release counts again', async () => {
    await quiet();
    await press(2, 5000);
    expect(presses).toEqual([1]);
    await press(2);
    expect(presses).toEqual([1, 1]);
  });

  it('two buttons give their own indices, in the order pressed', async () => {
    await quiet();
    await press(3);
    await press(2);
    await press(3);
    expect(presses).toEqual([2, 1, 2]);
  });

  it('led on / off / blink and beep reach the board', async () => {
    panel.led('on');
    await until(() => emu.output(LED) === 1, 'the LED lit');
    panel.led('off');
    await until(() => emu.output(LED) === 0, 'the LED dark');

    let toggles = 0;
    let last = emu.output(LED);
    const count = () => {
      if (emu.output(LED) !== last) toggles++;
      last = emu.output(LED);
    };
    emu.on('change', count);
    panel.led('blink');
    await until(() => toggles >= 3, 'three changes of the blinking LED'); // blinkMs 100
    emu.off('change', count);
    panel.led('on');
    await sleep(300); // blink changes sent before "on" have arrived
    await until(() => emu.output(LED) === 1, 'the LED steady on');
    toggles = 0;
    last = emu.output(LED);
    emu.on('change', count);
    await sleep(400);
    emu.off('change', count);
    expect(toggles).toBe(0); // blinking stopped, steady on

    const t0 = Date.now();
    expect(panel.beep(200)).toBe(true);
    await until(() => emu.output(BUZZER) === 1, 'the buzzer on');
    await until(() => emu.output(BUZZER) === 0, 'the buzzer off again');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
  });

  it('unplugged: lost; replugged (board reset, not announcing itself): ready again, the LED set again, presses counted; no old board kept', async () => {
    panel.led('on');
    await until(() => emu.output(LED) === 1, 'the LED lit before the unplug');
    // The board about to be pulled is the last one johnny-five knows.
    const cacheBefore = five.Board.cache.length;
    const oldBoard = new WeakRef(five.Board.cache[cacheBefore - 1]!);
    const oldIo = new WeakRef(five.Board.cache[cacheBefore - 1]!.io);
    let readies = 0;
    panel.on('ready', () => readies++);

    const lost = once(panel, 'lost', { signal: AbortSignal.timeout(30_000) });
    await socat.unplug();
    await lost;
    expect(panel.isReady).toBe(false);
    expect(panel.beep(100)).toBe(false);
    await emu.close();

    await socat.plug();
    emu = await FirmataBoard.open({ path: socat.device, announce: false });
    await until(() => readies === 1, 'ready after the replug');
    expect(emu.versionQueries).toBeGreaterThanOrEqual(1); // it had to ask
    await until(() => emu.output(LED) === 1, 'the LED lit again on the new board');
    await until(() => emu.pullup(2), 'the button pulled up on the new board');

    await quiet();
    await press(2);
    expect(presses).toEqual([1]);

    // johnny-five's board list holds the new board only, and the old Board and Firmata can be collected.
    expect(five.Board.cache.length).toBe(cacheBefore);
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // deref() keeps its target alive until the current job ends: collect in fresh jobs, look only afterwards.
    for (let i = 0; i < 3; i++) {
      await sleep(20);
      gc();
    }
    expect(oldBoard.deref()).toBeUndefined();
    expect(oldIo.deref()).toBeUndefined();
  });

  it('unplugged while a button is held: no press arrives later, and the next session counts normally', async () => {
    await quiet();
    emu.set(3, 0); // held down …
    await until(() => contact(3) === 'closing', 'the hub timing the press');
    const lost = once(panel, 'lost', { signal: AbortSignal.timeout(30_000) });
    await socat.unplug(); // … and pulled before the debounce time is over
    await lost;
    await emu.close();
    await sleep(400); // past the debounce time: a press kept alive by the old session would show now
    expect(presses).toEqual([]);

    const ready = once(panel, 'ready', { signal: AbortSignal.timeout(30_000) });
    await socat.plug();
    emu = await FirmataBoard.open({ path: socat.device });
    await ready;
    await until(() => emu.pullup(3), 'the button pulled up on the new board');
    await press(3);
    expect(presses).toEqual([2]);
  });

  it('stop() turns the LED and buzzer off and leaves no timer running', async () => {
    panel.led('blink');
    panel.beep(5000);
    await until(() => emu.output(BUZZER) === 1, 'the buzzer on');
    await panel.stop();
    await until(() => emu.output(LED) === 0 && emu.output(BUZZER) === 0, 'the LED and buzzer off on the board');
    // A timer that ends by itself a moment later (johnny-five's 7 ms button debounce, run late on a loaded
    // machine) is not a leak; one that is still there after seconds is.
    await until(() => timeouts() <= baseTimeouts, 'no timer left', 5000).catch(() => undefined);
    expect(timeouts()).toBeLessThanOrEqual(baseTimeouts);
    // Nothing is counted or driven any more.
    presses = [];
    await emu.hold(2, 400);
    await sleep(400);
    expect(presses).toEqual([]);
  });
});

describe('FirmataPanel with a pin the board does not have', () => {
  it('says so in the log, is never ready, and keeps no timer after stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qhub-firmata-'));
    const socat = new PtyPair(dir);
    await socat.plug();
    const emu = await FirmataBoard.open({ path: socat.device });
    const line = new SerialLine({ path: socat.hub, baudRate: 57600, backoffMs: { min: 50, max: 300 } });
    const { log, lines } = captureLog();
    // 40 is a Mega pin; an Uno has 20.
    const panel = new FirmataPanel({ link: line, buttons: [2, 40], askVersionAfterMs: 200, readyTimeoutMs: 2000, log });
    let ready = 0;
    panel.on('ready', () => ready++);
    try {
      line.start();
      await until(() => line.isOpen, 'the line to open');
      const base = timeouts();
      panel.start();
      await until(() => lines.some((l) => l.msg === 'firmata: the panel cannot be set up on this board'), 'the setup error');
      const err = lines.find((l) => l.msg === 'firmata: the panel cannot be set up on this board')!;
      expect(err.level).toBe(50); // pino "error"
      expect(String(err.err)).toMatch(/pin 40 is not on this board \(20 pins\)/);
      await sleep(300);
      expect(ready).toBe(0);
      expect(panel.isReady).toBe(false);
      await panel.stop();
      await sleep(20);
      expect(timeouts()).toBeLessThanOrEqual(base);
    } finally {
      await panel.stop();
      await line.stop();
      await emu.close();
      await socat.unplug();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------

/**
 * The daemon's own view: a process that uses the panel through an unplug
 * and a replug, then stops it and its line, must end by itself (no timer,
 * listener or port of johnny-five's left) and must have printed nothing
 * (johnny-five's console logging and REPL are off). The driver is
 * transpiled with the project's TypeScript and run in a plain node child.
 */
describe('a process using the panel', () => {
  it('prints nothing of johnny-five and exits by itself after stop()', async () => {
    const root = new URL('..', import.meta.url).pathname;
    const dir = mkdtempSync(join(tmpdir(), 'qhub-firmata-'));
    const out = join(dir, 'js');
    // The driver and the line, and whatever they import of ours (the relative imports left after type elision).
    const todo = ['drivers/firmata.ts', 'drivers/serial/line.ts'];
    const done = new Set<string>();
    for (let f = todo.pop(); f !== undefined; f = todo.pop()) {
      if (done.has(f)) continue;
      done.add(f);
      const js = ts.transpileModule(readFileSync(join(root, f), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      }).outputText;
      mkdirSync(join(out, f, '..'), { recursive: true });
      writeFileSync(join(out, f.replace(/\.ts$/, '.js')), js);
      for (const m of js.matchAll(/from\s+['"](\.{1,2}\/[^'"]+)\.js['"]/g)) todo.push(join(f, '..', `${m[1]}.ts`));
    }
    writeFileSync(join(out, 'package.json'), '{"type":"module"}');
    symlinkSync(join(root, 'node_modules'), join(out, 'node_modules'));
    writeFileSync(
      join(out, 'main.js'),
      `import { FirmataPanel } from './drivers/firmata.js';
import { SerialLine } from './drivers/serial/line.js';
const line = new SerialLine({ path: process.argv[2], baudRate: 57600, backoffMs: { min: 50, max: 300 } });
const panel = new FirmataPanel({ link: line, buttons: [2, 3], led: 13, buzzer: 8, askVersionAfterMs: 300, readyTimeoutMs: 10000 });
panel.on('ready', () => { panel.led('blink'); console.log('READY'); });
panel.on('lost', () => console.log('LOST'));
panel.on('press', async (i) => {
  console.log('PRESS ' + i);
  if (i === 2) { panel.beep(2000); await panel.stop(); await line.stop(); console.log('STOPPED'); }
});
panel.start();
line.start();
`,
    );

    const socat = new PtyPair(dir);
    await socat.plug();
    let emu = await FirmataBoard.open({ path: socat.device });
    const child = spawn(process.execPath, [join(out, 'main.js'), socat.hub], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = once(child, 'exit');
    try {
      await until(() => stdout.includes('READY'), 'the child ready');
      // Held until the child counted it: a fixed hold can end before a loaded child has read the press.
      emu.set(2, 0);
      await until(() => stdout.includes('PRESS 1'), 'press 1 in the child');
      emu.set(2, 1);
      await socat.unplug();
      await until(() => stdout.includes('LOST'), 'lost in the child');
      await emu.close();
      await socat.plug();
      emu = await FirmataBoard.open({ path: socat.device });
      await until(() => stdout.split('READY').length === 3, 'ready again in the child');
      emu.set(3, 0); // button 2: the child stops everything while blinking and beeping
      await until(() => stdout.includes('STOPPED'), 'the child stopped');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const [code, signal] = (await exited) as [number | null, string | null];
      clearTimeout(timer);
      expect(signal).toBeNull(); // not killed: it ended by itself
      expect(code).toBe(0);
      expect(stdout.trim().split('\n')).toEqual(['READY', 'PRESS 1', 'LOST', 'READY', 'PRESS 2', 'STOPPED']);
      expect(stderr).toBe('');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await emu.close();
      await socat.unplug();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000); // a child process, two handshakes and a replug on a loaded machine
});
