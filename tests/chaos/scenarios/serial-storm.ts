/**
 * Serial devices unplugged and replugged in a storm: three serial lines (an
 * RS-485 bus with two LED-485 displays, a line-protocol keypad, a line
 * display) on socat pseudo-terminals; each round kills or restarts socat at
 * random and writes bytes of garbage on the lines that are plugged, while
 * an MQTT keypad keeps calling at window 2. At the end every line but the
 * display's is plugged back: no crash, the newest call made while the bus
 * was away is on the LED display, a call from the wired keypad reaches its
 * LED display, and presence is right (/health).
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { SerialPort } from 'serialport';
import { LedBusEmulator } from '../../emulators/modbus-slave.js';
import { connectDevice, type TestDevice } from '../../helpers/hub.js';
import { PtyPair } from '../../helpers/pty.js';
import type { Figure, Scenario } from '../scenario.js';
import { secrets, sleep, watchedHub, type WatchedHub } from '../lib-abuse.js';

/** The far end of a line-protocol device: answers WHO? and PING like firmware, keeps what it was told. */
class LineDevice {
  readonly lines: string[] = [];
  private buf = '';
  private constructor(
    readonly port: SerialPort,
    private readonly model: string,
  ) {
    port.on('data', (c: Buffer) => {
      this.buf += c.toString('latin1');
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const l = this.buf.slice(0, i).replace(/\r$/, '');
        this.buf = this.buf.slice(i + 1);
        this.lines.push(l);
        if (this.lines.length > 5000) this.lines.splice(0, 2500);
        if (l === 'WHO?') this.send(`HELLO ${this.model} 1.0`);
        if (l === 'PING') this.send('PONG');
      }
    });
    port.on('error', () => undefined);
  }
  static async open(path: string, model: string): Promise<LineDevice> {
    const port = new SerialPort({ path, baudRate: 9600, autoOpen: false });
    await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
    const d = new LineDevice(port, model);
    d.send(`HELLO ${model} 1.0`); // on power-up, as the protocol asks
    return d;
  }
  send(line: string): void {
    if (this.port.isOpen) this.port.write(`${line}\r\n`);
  }
  last(prefix: string): string | undefined {
    for (let i = this.lines.length - 1; i >= 0; i--) if (this.lines[i]!.startsWith(prefix)) return this.lines[i];
    return undefined;
  }
  close(): Promise<void> {
    return new Promise((r) => (this.port.isOpen ? this.port.close(() => r()) : r()));
  }
}

/** Bytes of garbage written on a line from the device's side (a cable that picks up noise). */
function noise(devicePath: string, n: number): number {
  let fd: number | undefined;
  try {
    fd = openSync(devicePath, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
    return writeSync(fd, randomBytes(n));
  } catch {
    return 0;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

interface Line {
  name: string;
  pty: PtyPair;
  plugged: boolean;
  open(): Promise<void>;
  close(): Promise<void>;
}

async function until(what: string, f: () => boolean | Promise<boolean>, ms: number, signal?: AbortSignal): Promise<string | undefined> {
  const t0 = performance.now();
  while (!(await f())) {
    if (performance.now() - t0 > ms || signal?.aborted) return `timed out after ${Math.round(ms / 1000)} s waiting for ${what}`;
    await sleep(50);
  }
  return undefined;
}

export const serialStorm: Scenario = {
  name: 'serial-storm',
  title: 'serial lines unplugged and replugged in a storm (socat killed and restarted), garbage bytes on each line; no crash, no lost write, presence right at the end',
  budgetMs: { full: 180_000, short: 70_000 },
  async run(ctx) {
    const rounds = ctx.short ? 10 : 40;
    const figures: Record<string, Figure> = {};
    const problems: string[] = [];
    const dir = ctx.workDir;
    const pty = { bus: new PtyPair(dir, 'rs485'), keypad: new PtyPair(dir, 'keypad'), ldisp: new PtyPair(dir, 'ldisp') };
    let leds: LedBusEmulator | undefined;
    let keypad: LineDevice | undefined;
    let ldisp: LineDevice | undefined;
    let w: WatchedHub | undefined;
    const devs: TestDevice[] = [];
    const lines: Line[] = [
      {
        name: 'rs485',
        pty: pty.bus,
        plugged: false,
        open: async () => {
          leds = new LedBusEmulator(pty.bus.device, [{ address: 1 }, { address: 2 }]);
          await leds.ready();
        },
        close: async () => void (await leds?.close()),
      },
      { name: 'keypad', pty: pty.keypad, plugged: false, open: async () => void (keypad = await LineDevice.open(pty.keypad.device, 'line-keypad')), close: async () => void (await keypad?.close()) },
      { name: 'ldisp', pty: pty.ldisp, plugged: false, open: async () => void (ldisp = await LineDevice.open(pty.ldisp.device, 'line-display')), close: async () => void (await ldisp?.close()) },
    ];
    const plug = async (l: Line) => {
      await l.pty.plug();
      await l.open();
      l.plugged = true;
    };
    const unplug = async (l: Line) => {
      await l.close().catch(() => undefined);
      await l.pty.unplug();
      l.plugged = false;
    };
    try {
      for (const l of lines) await plug(l);
      w = await watchedHub((doc) => {
        for (let i = 0; i < 5; i++) doc.setIn(['services', i, 'last'], 999); // a 4-digit LED shows A001
        doc.setIn(
          ['devices'],
          doc.createNode([
            { id: 'disp-1', kind: 'dispenser', model: 'qhub-dispenser-5', bind: { services: ['intake', 'treasury', 'delivery', 'inquiry', 'complaints'] } },
            { id: 'kp-2', kind: 'keypad', model: 'qhub-keypad', bind: { window: 2 } },
            { id: 'kp-w1', kind: 'keypad', model: 'line-keypad', transport: { type: 'serial', path: pty.keypad.hub }, bind: { window: 1 } },
            { id: 'led-w1', kind: 'display', model: 'led485-display', transport: { type: 'serial', path: pty.bus.hub, address: 1 }, bind: { window: 1 } },
            { id: 'led-w2', kind: 'display', model: 'led485-display', transport: { type: 'serial', path: pty.bus.hub, address: 2 }, bind: { window: 2 } },
            { id: 'ld-w3', kind: 'display', model: 'line-display', transport: { type: 'serial', path: pty.ldisp.hub }, bind: { window: 3 } },
          ]),
        );
      });
      const hw = w;
      const port = w.hub.httpPort;
      const health = async () => {
        try {
          return ((await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { devices: { list: { id: string; online: boolean; why?: string }[] } }).devices.list;
        } catch {
          return [];
        }
      };
      const online = async (id: string) => (await health()).find((d) => d.id === id)?.online === true;
      for (const id of ['kp-w1', 'led-w1', 'led-w2', 'ld-w3']) {
        const p = await until(`${id} online at the start`, () => online(id), 30_000, ctx.signal);
        if (p) throw new Error(p);
      }
      const disp = await connectDevice(w.hub.mqttPort, 'disp-1', secrets['disp-1']!);
      const kp2 = await connectDevice(w.hub.mqttPort, 'kp-2', secrets['kp-2']!);
      devs.push(disp, kp2);
      const bytes0 = w.logBytes();
      const t0 = performance.now();
      let unplugs = 0;
      let garbageBytes = 0;
      let calls = 0;
      let lastW2: string | undefined;
      let keypadReq = 0;
      w.resetRss();
      for (let r = 0; r < rounds && !ctx.signal.aborted; r++) {
        for (const l of lines) {
          const x = Math.random();
          if (l.plugged && x < 0.4) {
            await unplug(l);
            unplugs++;
          } else if (l.plugged) garbageBytes += noise(l.pty.device, 16 + Math.floor(Math.random() * 1000));
          else if (x < 0.6) await plug(l);
        }
        // Window 2 keeps calling (its LED display may be unplugged right now): the newest call must show up later.
        await disp.request('press', { service: 'intake' }, 'ticket', 10_000).catch(() => undefined);
        const s = await kp2.request('cmd', { cmd: 'next' }, 'screen', 10_000).catch(() => undefined);
        if (s?.leaf === 'screen' && typeof s.body.t === 'string') (lastW2 = s.body.t), calls++;
        // The wired keypad asks too when it is there (its answer may be lost with the cable: a retry is the same number).
        if (lines[1]!.plugged && keypad && Math.random() < 0.5) keypad.send(`K ${++keypadReq} SCREEN`);
        await sleep(Math.floor(Math.random() * 300), ctx.signal);
        if (!hw.alive()) break;
        ctx.progress(`round ${r + 1}/${rounds}: plugged ${lines.filter((l) => l.plugged).map((l) => l.name).join(',') || 'none'}; last call at window 2 ${lastW2}`);
      }
      const stormS = (performance.now() - t0) / 1000;
      // The end state: the bus and the keypad are plugged, the line display is not.
      for (const l of lines) {
        if (l.name === 'ldisp' && l.plugged) await unplug(l);
        if (l.name !== 'ldisp' && !l.plugged) await plug(l);
      }
      const alive = w.alive();
      if (!alive) problems.push(`the daemon died during the storm (exit ${w.hub.proc.exitCode ?? w.hub.proc.signalCode})`);
      else {
        const waits = [
          until('kp-w1 online after the storm', () => online('kp-w1'), 40_000, ctx.signal),
          until('led-w1 online after the storm', () => online('led-w1'), 40_000, ctx.signal),
          until('led-w2 online after the storm', () => online('led-w2'), 40_000, ctx.signal),
          until('ld-w3 offline (unplugged)', async () => (await health()).find((d) => d.id === 'ld-w3')?.online === false, 40_000, ctx.signal),
        ];
        const tp = performance.now();
        for (const p of await Promise.all(waits)) if (p) problems.push(p);
        figures.presenceSettledS = Math.round((performance.now() - tp) / 100) / 10;
        // No lost write: the newest call at window 2, made during the storm, is on its LED display.
        if (lastW2) {
          const p = await until(`LED-485 address 2 to show ${lastW2}`, () => leds?.shown(2) === lastW2, 30_000, ctx.signal);
          if (p) problems.push(`${p} (it shows ${leds?.shown(2)})`);
        } else problems.push('no call at window 2 succeeded during the storm');
        // A call from the wired keypad after the replug reaches the keypad's screen and its LED display.
        await disp.request('press', { service: 'intake' }, 'ticket', 10_000).catch(() => undefined);
        const n = ++keypadReq;
        const mark = keypad!.lines.length;
        let answered: string | undefined;
        for (let i = 0; i < 5 && !answered; i++) {
          keypad!.send(`K ${n} NEXT`); // the same number when retried: never called twice
          await until(`OK ${n}`, () => keypad!.lines.slice(mark).some((l) => l === `OK ${n}` || l.startsWith(`ERR ${n} `)), 3000);
          answered = keypad!.lines.slice(mark).find((l) => l === `OK ${n}` || l.startsWith(`ERR ${n} `));
        }
        if (answered !== `OK ${n}`) problems.push(`the wired keypad's NEXT after the replug got ${answered ?? 'no answer'}`);
        else {
          let called: string | undefined;
          const p = await until('the keypad screen to show the call', () => {
            const m = /^S 1 open (\S+) called /.exec(keypad!.last('S ') ?? '');
            called = m?.[1];
            return !!called;
          }, 15_000);
          if (p) problems.push(`${p}; last screen ${keypad!.last('S ')}`);
          else {
            const q = await until(`LED-485 address 1 to show ${called}`, () => leds?.shown(1) === called, 30_000);
            if (q) problems.push(`${q} (it shows ${leds?.shown(1)})`);
            figures.wiredCall = called ?? null;
          }
        }
      }
      const errors = w.hub.logs.filter((l) => (l.level as number) >= 50);
      if (errors.length) problems.push(`${errors.length} error lines in the hub's log, e.g. ${String(errors[0]!.msg)}`);
      Object.assign(figures, {
        rounds,
        stormS: Math.round(stormS * 10) / 10,
        unplugs,
        garbageBytes,
        callsDuringStorm: calls,
        lastCallW2: lastW2 ?? null,
        rssMaxMiB: Math.round(w.rssMaxMiB() * 10) / 10,
        logBytes: w.logBytes() - bytes0,
        logBytesPerS: Math.round((w.logBytes() - bytes0) / stormS),
        ledOverlaps: leds?.overlaps ?? null,
      });
    } finally {
      await Promise.all(devs.map((d) => d.close()));
      const code = await w?.close();
      if (w && code !== 0 && !problems.some((p) => p.includes('died'))) problems.push(`the daemon did not stop cleanly on SIGTERM (exit ${code})`);
      for (const l of lines) await unplug(l).catch(() => undefined);
    }
    return {
      passed: problems.length === 0,
      figures,
      problems,
      notCovered: [
        'real USB-serial adapters (udev renaming, a /dev/serial/by-id link that comes back under another ttyUSB number); socat ptys only',
        'Firmata boards and the ESC/POS printer in the storm (their own tests pull their cables once)',
        'electrical noise at the UART level (framing and parity errors): garbage arrives as whole bytes',
      ],
    };
  },
};
