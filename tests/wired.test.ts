/**
 * A center with only wired devices, on the real daemon, over real
 * pseudo-terminals (socat) with the real serialport bindings, and an
 * emulator of each device on the far end: a StandardFirmata Arduino with
 * the dispenser's buttons, an ESC/POS printer, two LED-485 displays on one
 * RS-485 bus, a DFPlayer Mini and a line-protocol keypad.
 *
 * button → printed ticket → keypad call → the Modbus display shows it →
 * the DFPlayer plays the call; then cables are pulled and put back.
 */
import mqtt from 'mqtt';
import { SerialPort } from 'serialport';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dfTrackOf } from '../devices/dfplayer-speaker.js';
import { renderTicket } from '../devices/render/ticket.js';
import { composeCall, CLIPS, SOUNDS } from '../contract/voice.js';
import { DfEmulator } from './emulators/dfplayer.js';
import { EscPosPrinterEmulator } from './emulators/escpos-printer.js';
import { FirmataBoard } from './emulators/firmata-board.js';
import { LedBusEmulator } from './emulators/modbus-slave.js';
import { startHub, testCenter, type RunningHub } from './helpers/hub.js';
import { PtyPair } from './helpers/pty.js';

/** What the failing wait saw, for its error message (set by the tests that use a line device). */
let seen: () => string = () => '';
// Deadlines sized for a loaded machine (shared CI runners, other suites beside this one): a passing run never waits for them.
const until = async (what: string, f: () => boolean | Promise<boolean>, ms = 30_000) => {
  const t0 = Date.now();
  while (!(await f())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}${seen() ? `; last lines: ${seen()}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

/** The far end of a line-protocol keypad: lines in, lines out, answers WHO? like the firmware would. */
class LineKeypad {
  readonly lines: string[] = [];
  private buf = '';
  private constructor(readonly port: SerialPort) {
    port.on('data', (c: Buffer) => {
      this.buf += c.toString('latin1');
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const l = this.buf.slice(0, i).replace(/\r$/, '');
        this.buf = this.buf.slice(i + 1);
        this.lines.push(l);
        this.transcript.push(`hub → ${l}`);
        if (l === 'WHO?') this.send('HELLO line-keypad 1.0');
        if (l === 'PING') this.send('PONG');
      }
    });
    port.on('error', () => {});
  }
  static async open(path: string): Promise<LineKeypad> {
    const port = new SerialPort({ path, baudRate: 9600, autoOpen: false });
    await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
    const k = new LineKeypad(port);
    // Like the firmware, it introduces itself after power-up (docs/LINE-PROTOCOL.md), so it does not depend on
    // hearing the hub's WHO?: one sent before this end was open is gone, and the next comes only with the next PING.
    k.send('HELLO line-keypad 1.0');
    return k;
  }
  /** Both directions, for docs/LINE-PROTOCOL.md's captured session (all keypads of the run). */
  static readonly transcript: string[] = [];
  private get transcript() {
    return LineKeypad.transcript;
  }
  send(line: string) {
    this.transcript.push(`dev → ${line}`);
    this.port.write(`${line}\r\n`);
  }
  last(prefix: string): string | undefined {
    return [...this.lines].reverse().find((l) => l.startsWith(prefix));
  }
  close(): Promise<void> {
    return new Promise((r) => (this.port.isOpen ? this.port.close(() => r()) : r()));
  }
}

describe('a center with only wired devices', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qhub-wired-'));
  const pty = {
    arduino: new PtyPair(dir, 'arduino'),
    printer: new PtyPair(dir, 'printer'),
    bus: new PtyPair(dir, 'rs485'),
    df: new PtyPair(dir, 'dfplayer'),
    keypad: new PtyPair(dir, 'keypad'),
    /** Not plugged when the hub starts: a device absent at boot. */
    late: new PtyPair(dir, 'late'),
  };
  let hub: RunningHub;
  let board: FirmataBoard;
  let printer: EscPosPrinterEmulator;
  let leds: LedBusEmulator;
  let df: DfEmulator;
  let keypad: LineKeypad;
  let statuses: mqtt.MqttClient;
  const status = new Map<string, Record<string, unknown>>();
  const SUPERVISOR = 'wired-test-supervisor-secret';

  // Every clip of the pack lasts 40 ms on the emulated card.
  const tracks = new Map<string, number>();
  for (const [lang, ids] of [['ar', Object.keys(CLIPS.ar)], ['en', Object.keys(CLIPS.en)], ['sound', Object.keys(SOUNDS)]] as const)
    for (const id of ids) {
      const f = dfTrackOf({ lang, id })!;
      tracks.set(`${f.folder}/${f.track}`, 40);
    }

  /**
   * Presses a button (`levels` first: chatter, applied at once) and holds it until the printer has cut ticket
   * number `cuts`, `holdMs` more, then lets go: a fixed hold can end, on a loaded machine, before the hub has even
   * read the press, and the hub then reads press and release together (no press).
   * A press the dispenser refuses is pressed again once it can issue, up to three times: on a loaded machine the
   * emulated printer can miss the hub's 800 ms paper-status deadline, and a dispenser that does not hear its
   * printer refuses presses (a long beep) until the next status poll (10 s) hears it again, as it should.
   */
  const press = async (pin: number, cuts: number, o: { levels?: (0 | 1)[]; holdMs?: number } = {}) => {
    for (let attempt = 1; ; attempt++) {
      for (const level of o.levels ?? [0]) board.set(pin, level); // ends pressed (0)
      try {
        await printer.waitForCuts(cuts, 15_000);
        if (o.holdMs) await sleep(o.holdMs);
        return;
      } catch (e) {
        if (attempt >= 3) throw e;
      } finally {
        board.set(pin, 1);
      }
      await until('the dispenser able to issue again', async () => !(await device('disp-w'))?.faults?.length);
      await sleep(1000); // released long enough to count as released
    }
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const health = async () => (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as { devices: { list: { id: string; online: boolean; faults?: string[]; why?: string }[] } };
  const device = async (id: string) => (await health()).devices.list.find((d) => d.id === id);

  beforeAll(async () => {
    for (const p of Object.values(pty)) if (p !== pty.late) await p.plug();
    board = await FirmataBoard.open({ path: pty.arduino.device });
    printer = await EscPosPrinterEmulator.open(pty.printer.device, 9600);
    leds = new LedBusEmulator(pty.bus.device, [{ address: 1 }, { address: 2 }]);
    await leds.ready();
    df = await DfEmulator.open({ path: pty.df.device, tracks });
    keypad = await LineKeypad.open(pty.keypad.device);

    const { config } = testCenter((doc) => {
      doc.setIn(
        ['devices'],
        doc.createNode([
          { id: 'disp-w', kind: 'dispenser', model: 'wired-dispenser', transport: { type: 'firmata', path: pty.arduino.hub, buttons: [2, 3], led: 13, buzzer: 8, printer: { path: pty.printer.hub } }, bind: { services: ['intake', 'treasury'] } },
          { id: 'kp-w1', kind: 'keypad', model: 'line-keypad', transport: { type: 'serial', path: pty.keypad.hub }, bind: { window: 1 } },
          { id: 'led-w1', kind: 'display', model: 'led485-display', transport: { type: 'serial', path: pty.bus.hub, address: 1 }, bind: { window: 1 } },
          { id: 'led-w2', kind: 'display', model: 'led485-display', transport: { type: 'serial', path: pty.bus.hub, address: 2 }, bind: { window: 2 } },
          { id: 'spk-w', kind: 'speaker', model: 'dfplayer-mini', transport: { type: 'serial', path: pty.df.hub }, bind: { zone: 'hall' } },
          { id: 'ld-w2', kind: 'display', model: 'line-display', transport: { type: 'serial', path: pty.late.hub }, bind: { window: 2 } },
        ]),
      );
    });
    hub = await startHub(config, join(dir, 'data'), { QHUB_SUPERVISOR_SECRET: SUPERVISOR });
    statuses = await mqtt.connectAsync(`mqtt://127.0.0.1:${hub.mqttPort}`, { username: 'supervisor', password: SUPERVISOR, clientId: 'supervisor' });
    statuses.on('message', (topic, payload) => {
      const id = topic.split('/')[2]!;
      status.set(id, JSON.parse(payload.toString()) as Record<string, unknown>);
    });
    await statuses.subscribeAsync('qhub/dev/+/status');
  }, 180_000); // the hub and six emulators starting on a loaded machine

  afterAll(async () => {
    if (process.env.WIRED_DEBUG) for (const l of hub?.logs ?? []) console.log(JSON.stringify(l));
    if (process.env.WIRED_DEBUG) console.log(LineKeypad.transcript.join('\n'));
    await statuses?.endAsync();
    await hub?.stop();
    await Promise.all([board?.close(), printer?.close(), leds?.close(), df?.close(), keypad?.close()]);
    for (const p of Object.values(pty)) await p.unplug();
  });

  it('every wired device comes online, in /health and on its retained status topic', async () => {
    for (const id of ['disp-w', 'kp-w1', 'led-w1', 'led-w2', 'spk-w']) {
      await until(`${id} online in /health`, async () => (await device(id))?.online === true);
      // One subscription, made while the devices come online: a status that changes while Aedes sets the
      // SUBSCRIBE up reaches the supervisor live and then as the retained copy read before; the hub makes
      // that copy the latest, so the last word is "online" (before, it stayed "offline" under CPU load).
      await until(`${id} online on its status topic`, () => status.get(id)?.state === 'online');
    }
    expect(status.get('disp-w')).toMatchObject({ state: 'online', via: 'firmata', model: 'wired-dispenser' });
    expect(status.get('kp-w1')).toMatchObject({ state: 'online', via: 'serial', model: 'line-keypad', fw: '1.0' });
    // The device whose cable is not there yet: offline, and the hub serves everyone else.
    expect(await device('ld-w2')).toMatchObject({ online: false });
    expect(status.get('ld-w2')).toMatchObject({ state: 'offline', via: 'serial' });
    // The dispenser's status LED is lit: it can issue.
    await until('status LED on', () => board.output(13) === 1);
  });

  it('button → printed ticket → keypad call → the Modbus display shows it → the DFPlayer plays the call', async () => {
    const before = printer.tickets().filter((t) => t.cut).length;
    await press(2, before + 1);
    const printed = printer.tickets().filter((t) => t.cut);
    expect(printed).toHaveLength(before + 1);
    // The printed dots are the ticket the hub issued, rendered as the hub renders it.
    const ticket = printed.at(-1)!.bitmap;
    expect(ticket.width).toBe(576);
    expect(ticket.height).toBeGreaterThan(300);

    // The keypad sees one citizen waiting, calls, and gets the screen with its request number.
    seen = () => JSON.stringify(keypad.lines.slice(-8));
    await until('keypad shows 1 waiting', () => /^S 1 \w+ - - 1 /.test(keypad.last('S ') ?? ''));
    keypad.send('K 1 OPEN');
    await until('OK 1', () => keypad.lines.includes('OK 1'));
    keypad.send('K 2 NEXT');
    await until('OK 2', () => keypad.lines.includes('OK 2'));
    await until('keypad screen shows the call', () => /^S 1 open A001 called 0 /.test(keypad.last('S ') ?? ''));
    // The same request again (a retry) calls nobody new.
    keypad.send('K 2 NEXT');
    await new Promise((r) => setTimeout(r, 300));
    expect(keypad.last('S ')).toMatch(/^S 1 open A001 called /);

    await until('LED-485 at address 1 shows A001', () => leds.shown(1) === 'A001');
    expect(leds.shown(2)).toBeNull();
    // The master never sends a new request while a display prepares its answer (a retry of the same request after
    // the master's own timeout is not counted: on a loaded machine the emulator can answer later than that).
    expect(leds.overlaps).toBe(0);

    // The DFPlayer plays the call's clips in order, one after the other.
    const expected = composeCall({ t: 'A001', w: 1, lang: 'both' }).clips.map((c) => dfTrackOf(c)!);
    await until('the call played to its last clip', () => df.timeline.length >= expected.length && df.timeline.every((c) => c.end !== undefined));
    expect(df.timeline.map((c) => ({ folder: c.folder, track: c.track }))).toEqual(expected);
    expect(df.interrupted).toBe(0);
    for (let i = 1; i < df.timeline.length; i++) expect(df.timeline[i]!.start).toBeGreaterThanOrEqual(df.timeline[i - 1]!.end!);

    // Sanity of the print: the same ticket rendered here has the same size.
    const again = renderTicket({ t: 'A001', service: 'intake', name: { ar: 'x' }, center: { ar: 'x' }, date: '2026-01-01', time: '00:00', ahead: 0, waitMin: 0 });
    expect(again.bitmap.width).toBe(ticket.width);
  });

  it('a bouncing button makes one ticket, and a held one makes one ticket', async () => {
    const cuts = () => printer.tickets().filter((t) => t.cut).length;
    const before = cuts();
    // Chatter on closing, all at once: whatever the load, the hub reads it as edges closer together than its
    // debounce time (chatter spread in time is PressDebouncer's test, with fake timers, in firmata.test.ts).
    await press(3, before + 1, { levels: [0, 1, 0, 1, 0, 1, 0, 1, 0] });
    // Released long enough to count as released (a press right on the heels of a release is chatter).
    await sleep(1000);
    // Held well past its ticket: still one.
    await press(3, before + 2, { holdMs: 3000 });
    await sleep(500);
    expect(cuts()).toBe(before + 2);
  });

  it('a printer out of paper stops the dispenser issuing, says so, and issues again with paper', async () => {
    printer.setPaper('out');
    await until('paper_out in /health', async () => (await device('disp-w'))?.faults?.includes('paper_out') === true);
    await until('paper_out on the status topic', () => JSON.stringify(status.get('disp-w')?.faults ?? []).includes('paper_out'));
    const cuts = () => printer.tickets().filter((t) => t.cut).length;
    const before = cuts();
    const screenBefore = keypad.last('S ');
    await board.hold(2, 120);
    await new Promise((r) => setTimeout(r, 800));
    expect(cuts()).toBe(before);
    expect(keypad.last('S ')).toBe(screenBefore); // nobody new waits
    printer.setPaper('ok');
    await until('fault cleared', async () => !(await device('disp-w'))?.faults?.length);
    await until('status LED lit again', () => board.output(13) === 1);
    await sleep(1000); // released long enough since the refused press
    await press(2, before + 1);
  });

  it('unplug and replug the RS-485 bus: offline, then online, and the newest state made while away is shown', async () => {
    await leds.close();
    await pty.bus.unplug();
    await until('led-w1 offline', async () => (await device('led-w1'))?.online === false);
    await until('led-w1 status offline', () => status.get('led-w1')?.state === 'offline');
    // /health says why, for the technician.
    expect(await device('led-w1')).toMatchObject({ online: false, why: expect.stringMatching(/serial port closed|no answer on the RS-485 bus/) });
    // While the bus is away window 1 finishes A001 and calls A002: two states for the display; the newest wins.
    keypad.send('K 3 DONE');
    await until('OK 3', () => keypad.lines.includes('OK 3'));
    keypad.send('K 4 NEXT');
    await until('OK 4', () => keypad.lines.includes('OK 4'));
    // The screen follows the OK (views go out after the reply): wait for it.
    await until('keypad screen shows A002', () => /^S 1 open A002 called /.test(keypad.last('S ') ?? ''));
    await pty.bus.plug();
    leds = new LedBusEmulator(pty.bus.device, [{ address: 1 }, { address: 2 }]);
    await leds.ready();
    await until('led-w1 online again', async () => (await device('led-w1'))?.online === true, 30_000);
    await until('led-w1 status online again', () => status.get('led-w1')?.state === 'online');
    await until('LED-485 at address 1 shows A002', () => leds.shown(1) === 'A002', 30_000);
    expect(leds.history.filter((e) => e.address === 1).length).toBeGreaterThan(0);
  });

  it('unplug and replug the keypad: offline, online again with its screen, and it works', async () => {
    await keypad.close();
    await pty.keypad.unplug();
    await until('kp-w1 offline', async () => (await device('kp-w1'))?.online === false);
    await pty.keypad.plug();
    keypad = await LineKeypad.open(pty.keypad.device);
    await until('kp-w1 online again', async () => (await device('kp-w1'))?.online === true, 30_000);
    await until('keypad screen after replug', () => /^S 1 open A002 called /.test(keypad.last('S ') ?? ''));
    // A new HELLO is a new session: request number 1 again is a new request, not a repeat.
    keypad.send('K 1 DONE');
    await until('OK 1 after replug', () => keypad.lines.includes('OK 1'));
    await until('LED-485 at address 1 blank after DONE', () => leds.shown(1) === null);
    // No crash, and nothing at error level in the hub's log.
    expect(hub.proc.exitCode).toBeNull();
    expect(hub.logs.filter((l) => (l.level as number) >= 50).map((l) => l.msg)).toEqual([]);
  });

  it('the line protocol: quick requests each get their OK, and the tail of a refused overlong line is never run', async () => {
    const from = keypad.lines.length;
    keypad.port.write('K 7 SCREEN\r\nK 8 SCREEN\r\n');
    await until('OK 7 and OK 8', () => keypad.lines.slice(from).includes('OK 7') && keypad.lines.slice(from).includes('OK 8'));
    // A cable that garbles: an overlong line with what looks like a request in its tail, in 8-byte pieces as a UART delivers them.
    const screen = keypad.last('S ');
    const garbage = Buffer.from(`K 42 CALL ${'Q'.repeat(190)}K 43 DONE\r\n`);
    const mark = keypad.lines.length;
    for (let i = 0; i < garbage.length; i += 8) {
      keypad.port.write(garbage.subarray(i, i + 8));
      await new Promise((r) => setTimeout(r, 2));
    }
    keypad.send('K 44 SCREEN');
    await until('OK 44', () => keypad.lines.includes('OK 44'));
    const after = keypad.lines.slice(mark);
    // One refusal: "line too long" when the reader overflows before the end of the line, or the parser's
    // "line of 209 characters" when a loaded machine hands it the whole line in one read.
    const errs = after.filter((l) => l.startsWith('ERR'));
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^ERR - bad_line (line too long|line of 209 characters; at most 96)$/);
    expect(after).not.toContain('OK 43');
    expect(keypad.last('S ')).toBe(screen);
  });

  it('a device absent at boot comes online when its cable is plugged in, and gets what to show', async () => {
    await pty.late.plug();
    const display = await LineKeypad.open(pty.late.device); // answers WHO? with a HELLO, like any line device
    try {
      await until('ld-w2 online', async () => (await device('ld-w2'))?.online === true);
      await until('ld-w2 got its window line', () => display.lines.some((l) => /^D 2 \w+ /.test(l)));
      // The retained status follows presence through the bus: it arrives just after /health says online.
      await until('ld-w2 online on its status topic', () => status.get('ld-w2')?.state === 'online');
      expect(status.get('ld-w2')).toMatchObject({ state: 'online', via: 'serial' });
    } finally {
      await display.close();
    }
  });
});
