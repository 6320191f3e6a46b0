/**
 * A wired ticket dispenser: service buttons, a status LED and a buzzer on
 * an Arduino running StandardFirmata (USB), and an ESC/POS thermal printer
 * on its own serial line; configured as one device.
 *
 * Bytes → requests: a debounced button press is a `press` with a fresh id
 * (so a line retry cannot make two tickets, and a power-cycled board never
 * reuses an id of the day). Hub state → bytes: the `ticket` answer is
 * rendered (Arabic shaped, devices/render/ticket.ts) and printed as a
 * raster image.
 *
 * A dispenser without paper must not issue numbers nobody holds: while the
 * printer reports paper out (or does not answer), presses are refused at
 * the button (long beep, blinking LED), and the device's status and /health
 * say why (`faults`). The paper sensor is read every 10 s and after every
 * ticket.
 */
import { randomBytes } from 'node:crypto';
import { EscPosPrinter, type PaperState } from '../drivers/escpos.js';
import { FirmataPanel } from '../drivers/firmata.js';
import type { TicketView } from './render/ticket.js';
import type { ModelDefinition, WiredDevice, WiredIo } from './model.js';

const PAPER_POLL_MS = 10_000;
const PRINT_EXPIRE_MS = 30_000;

function open(io: WiredIo): WiredDevice {
  const t = io.device.transport;
  if (t.type !== 'firmata' || !t.printer) throw new Error(`${io.device.id}: a wired dispenser needs transport {type: firmata, ..., printer: {path}}`);
  const panel = new FirmataPanel({
    link: io.line(),
    buttons: t.buttons,
    ...(t.led !== undefined ? { led: t.led } : {}),
    ...(t.buzzer !== undefined ? { buzzer: t.buzzer } : {}),
    debounceMs: t.debounceMs,
    log: io.log,
  });
  const printerLine = io.lineAt(t.printer);
  const printer = new EscPosPrinter(printerLine, io.log);
  const widthDots = t.printer.widthDots;
  // The renderer (Skia, fonts) is loaded only by a hub that has a wired printer; started now so the first ticket does not wait.
  const renderer = import('./render/ticket.js');
  renderer.catch((e: Error) => io.log.error({ err: e.message }, 'ticket renderer cannot be loaded: tickets cannot be printed'));
  // Ids unique across restarts of the hub: the day's dedupe must never take a new press for an old one.
  const session = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  let count = 0;
  let ready = false;
  let paper: PaperState | undefined;
  let stopped = false;
  const stats = { presses: 0, refused: 0, printed: 0, printFailures: 0 };

  const faults = (): string[] => (paper === undefined ? ['printer_absent'] : paper === 'out' ? ['paper_out'] : paper === 'low' ? ['paper_low'] : []);
  const canIssue = () => ready && paper !== undefined && paper !== 'out';
  const report = () => {
    if (!ready) return io.offline('the Arduino does not answer (no StandardFirmata, or the cable is out)');
    io.online({ model: 'wired-dispenser', faults: faults() });
    panel.led(canIssue() ? 'on' : 'blink');
  };
  const readPaper = async () => {
    if (stopped) return;
    const was = paper;
    paper = await printer.paper(800);
    if (paper !== was) {
      if (paper === 'out' || paper === undefined) io.log.warn({ paper: paper ?? 'no answer' }, 'printer cannot print: the dispenser stops issuing tickets');
      else if (was === 'out' || was === undefined) io.log.info({ paper, buttons: ready ? 'ready' : 'waiting for the Arduino' }, ready ? 'printer answers: the dispenser issues tickets' : 'printer answers; the buttons wait for the Arduino');
    }
    report();
  };
  const poll = setInterval(() => void readPaper(), PAPER_POLL_MS);
  poll.unref();
  const offPrinter = printerLine.onState((up) => void (up ? setTimeout(() => void readPaper(), 200) : readPaper()));

  panel.on('ready', () => {
    ready = true;
    void readPaper();
  });
  panel.on('lost', () => {
    ready = false;
    report();
  });
  panel.on('press', (button: number) => {
    stats.presses++;
    if (!canIssue()) {
      stats.refused++;
      io.log.info({ button, faults: faults() }, 'press refused: the dispenser cannot print');
      panel.beep(600);
      return;
    }
    const id = `${session}-${++count}`;
    io.request('press', { v: 1, id, button }).catch((e: Error) => {
      io.log.warn({ button, err: e.message }, 'press not taken by the hub');
      panel.beep(600);
    });
  });

  panel.start();
  return {
    send(m) {
      if (m.leaf === 'error') {
        io.log.info({ code: m.body.code, message: m.body.message }, 'press refused by the hub');
        panel.beep(600);
        return;
      }
      if (m.leaf !== 'ticket') return;
      const view = m.body.ticket;
      let bytes = 0;
      panel.beep(80);
      renderer
        .then(({ ticketBytes }) => {
          const job = ticketBytes(view, { widthDots });
          bytes = job.length;
          // A ticket printed minutes late would go to the wrong person: if the printer is away longer than this, it is reported, not printed.
          return printerLine.write(job, { expireMs: PRINT_EXPIRE_MS });
        })
        .then(() => {
          stats.printed++;
          io.log.debug({ t: view.t, bytes }, 'ticket printed');
        })
        .catch((e: Error) => {
          stats.printFailures++;
          io.log.error({ t: view.t, err: e.message }, `ticket ${view.t} was issued but not printed: the citizen who pressed has no ticket`);
        })
        .finally(() => void readPaper());
    },
    async stop() {
      stopped = true;
      clearInterval(poll);
      offPrinter();
      await panel.stop();
    },
    health: () => ({ ready, paper: paper ?? null, ...stats }),
  };
}

export const wiredDispenser: ModelDefinition = {
  model: 'wired-dispenser',
  kind: 'dispenser',
  description: 'ticket dispenser wired to the Pi: buttons, LED and buzzer on an Arduino (StandardFirmata) and an ESC/POS thermal printer on a serial line',
  transports: ['firmata'],
  sends: ['press'],
  accepts: ['ticket', 'error'],
  needs: ['printer'],
  wired: { open },
};
