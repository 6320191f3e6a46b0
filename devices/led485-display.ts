/**
 * LED-485: the common RS-485 Modbus RTU seven-segment window display
 * (9600 8N1, slave address 1 unless set). Register 0x0000 takes a plain
 * number (function 06); registers from 0x0080 take raw segment bytes, two
 * characters per register (function 16), which is how a ticket with a
 * letter prefix ("A042") is shown. Several displays share one bus, each at
 * its own `transport.address`.
 *
 * Hub state → bytes: the window's current ticket while it is called or
 * served, blank otherwise. The newest state wins: while a write is on the
 * bus, later states collapse into the last one. The display has no way to
 * say it is there except by answering, so it is online while it answers,
 * and it is rewritten every 30 s (which also repaints a display that was
 * power-cycled).
 */
import { led485Frames, unshowable } from '../drivers/sevenseg.js';
import type { DisplayMsg } from '../contract/devices.js';
import type { ModelDefinition, WiredDevice, WiredIo } from './model.js';

export const LED485_DIGITS = 4;
const REFRESH_MS = 30_000;
const RETRY_MS = { min: 1000, max: 15_000 };

/** What the display shows for a window view: the ticket at the window, or nothing. */
export function led485Text(view: DisplayMsg): string | null {
  if (!('w' in view)) return null; // a board's view: not for a window display
  return (view.state === 'called' || view.state === 'serving') && typeof view.t === 'string' ? view.t : null;
}

function open(io: WiredIo): WiredDevice {
  const t = io.device.transport;
  const address = t.type === 'serial' ? (t.address ?? 1) : 1;
  const bus = io.modbus();
  const line = io.line();
  /** undefined: the hub has not said yet. */
  let want: string | null | undefined;
  let shown: string | null | undefined;
  let busy = false;
  let stopped = false;
  let delay = RETRY_MS.min;
  let retry: NodeJS.Timeout | undefined;
  let writes = 0;
  let failures = 0;
  let lastError: string | undefined;

  const frames = (text: string | null): Buffer[] => {
    if (text && (text.length > LED485_DIGITS || unshowable(text).length)) {
      // A number the display cannot show must not show as another number: dashes say "look at the board".
      io.log.warn({ t: text }, `ticket ${text} does not fit a ${LED485_DIGITS}-digit seven-segment display; showing dashes`);
      return led485Frames(address, '-'.repeat(LED485_DIGITS), LED485_DIGITS);
    }
    return led485Frames(address, text, LED485_DIGITS);
  };

  const pump = async (): Promise<void> => {
    if (busy || stopped) return;
    busy = true;
    try {
      while (!stopped && want !== undefined && want !== shown) {
        const text = want;
        try {
          for (const f of frames(text)) await bus.send(f);
          writes++;
          shown = text;
          delay = RETRY_MS.min;
          io.online({ model: 'led485-display' });
        } catch (e) {
          failures++;
          lastError = (e as Error).message;
          io.offline(`no answer on the RS-485 bus: ${lastError}`);
          // Try again later; a newer state set meanwhile is what goes out then.
          clearTimeout(retry);
          retry = setTimeout(() => void pump(), delay);
          delay = Math.min(RETRY_MS.max, delay * 2);
          break;
        }
      }
    } finally {
      busy = false;
    }
  };

  const refresh = setInterval(() => {
    shown = undefined;
    void pump();
  }, REFRESH_MS);
  refresh.unref();
  const offState = line.onState((open) => {
    if (!open) return io.offline('serial port closed (cable pulled?)');
    // The display may have lost power with the cable: show it again.
    shown = undefined;
    void pump();
  });

  return {
    send(m) {
      if (m.leaf !== 'display') return;
      want = led485Text(m.body);
      void pump();
    },
    async stop() {
      stopped = true;
      clearInterval(refresh);
      clearTimeout(retry);
      offState();
    },
    health: () => ({ address, shown: shown ?? null, writes, failures, ...(lastError ? { lastError } : {}), bus: bus.counters }),
  };
}

export const led485Display: ModelDefinition = {
  model: 'led485-display',
  kind: 'display',
  description: `RS-485 Modbus RTU seven-segment window display ("LED-485"), ${LED485_DIGITS} digits, 9600 8N1, address 1 by default`,
  transports: ['serial'],
  sends: [],
  accepts: ['display'],
  bus: 'modbus',
  shows(ticket) {
    if (ticket.length > LED485_DIGITS) return `${ticket.length} characters do not fit its ${LED485_DIGITS} digits`;
    const bad = unshowable(ticket);
    return bad.length ? `a seven-segment display has no form for ${bad.map((c) => `"${c}"`).join(', ')}` : undefined;
  },
  wired: { open },
};
