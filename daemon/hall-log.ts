/**
 * Module `hall-log`: one readable journal line per ticket issued and per call
 * ("A042 → window 3, by kp-3"), so a technician can follow the hall with
 * `journalctl -u qhub -f`; and devices coming online, gathered over a second
 * into one line (a hall starting up is one line, not fifty). Reads the
 * committed events and device presence; changes nothing.
 *
 * A source that goes past 8 lines in 10 s (a device stuck in a loop) is not
 * logged line by line: the lines held back are counted and said at the end
 * of its 10 s, so a flood cannot fill the journal and nothing goes unsaid.
 *
 * Owns: nothing. May touch: the bus (listens to `committed`, `device.online`, `device.offline`).
 */
import type { Logger } from 'pino';
import type { StoredEvent } from '../contract/queue.js';
import type { HubContext } from './spine/context.js';
import type { HubModule } from './spine/module.js';

/** The line for an event a person following the hall wants to see; undefined for the others. */
export function hallLine(e: StoredEvent): string | undefined {
  const by = e.source ? `, by ${e.source}` : '';
  switch (e.type) {
    case 'ticket.issued':
      return `${e.number} issued for ${e.service}${e.priority ? ` (priority: ${e.priority})` : ''}, ${e.ahead} ahead${by}`;
    case 'ticket.called':
      return `${e.number} → window ${e.window}${by}`;
    case 'ticket.recalled':
      return `${e.number} → window ${e.window} again (recall ${e.count})${by}`;
    default:
      return undefined;
  }
}

/** Lines one source may log per window, and the window. */
const BUDGET = 8;
const WINDOW_MS = 10_000;

export class HallLog implements HubModule {
  readonly name = 'hall-log';
  private readonly log: Logger;
  private offs: (() => void)[] = [];
  private readonly online = new Set<string>();
  private arrived: string[] = [];
  private timer?: NodeJS.Timeout;
  private readonly budgets = new Map<string, { from: number; n: number; held: number }>();
  private flusher?: NodeJS.Timeout;

  constructor(private readonly ctx: HubContext) {
    this.log = ctx.log.child({ mod: 'hall' });
  }

  start(): void {
    const bus = this.ctx.bus;
    this.offs.push(
      bus.on('device.online', this.name, ({ device }) => {
        if (this.online.has(device.id)) return; // a change of condition, not an arrival
        this.online.add(device.id);
        this.arrived.push(device.id);
        this.timer ??= setTimeout(() => this.sayArrived(), 1000);
      }),
      bus.on('device.offline', this.name, ({ device }) => void this.online.delete(device.id)),
    );
    this.offs.push(bus.on('committed', this.name, ({ events }) => {
      for (const e of events) {
        const line = hallLine(e);
        if (line && this.within(e.source ?? 'hub')) this.log.info({ seq: e.seq, event: e.type, ...('number' in e ? { ticket: e.number } : {}), ...('window' in e ? { window: e.window } : {}), ...(e.source ? { source: e.source } : {}) }, line);
      }
    }));
  }

  /** Whether a line from `source` fits its budget; counts it as held back when not. */
  private within(source: string): boolean {
    const now = performance.now();
    let b = this.budgets.get(source);
    if (!b || now - b.from >= WINDOW_MS) {
      if (b?.held) this.sayHeld(source, b.held);
      this.budgets.set(source, (b = { from: now, n: 0, held: 0 }));
    }
    if (b.n < BUDGET) {
      b.n++;
      return true;
    }
    b.held++;
    this.flusher ??= setTimeout(() => this.flush(), WINDOW_MS).unref();
    return false;
  }

  private flush(): void {
    this.flusher = undefined;
    const now = performance.now();
    for (const [source, b] of this.budgets) {
      if (now - b.from < WINDOW_MS) {
        if (b.held) this.flusher ??= setTimeout(() => this.flush(), WINDOW_MS - (now - b.from)).unref();
        continue;
      }
      if (b.held) this.sayHeld(source, b.held);
      this.budgets.delete(source);
    }
  }

  private sayHeld(source: string, held: number): void {
    this.log.info({ source, held }, `${held} more tickets and calls by ${source} in 10 s, not logged one by one (a device in a loop?): the events have them all`);
  }

  private sayArrived(): void {
    this.timer = undefined;
    // Those that left again within the second are not announced.
    const ids = this.arrived.filter((id) => this.online.has(id));
    this.arrived = [];
    if (!ids.length) return;
    const all = this.ctx.config.devices.filter((d) => d.enabled).length;
    const names = ids.length > 12 ? `${ids.slice(0, 12).join(', ')} and ${ids.length - 12} more` : ids.join(', ');
    this.log.info({ devices: ids, online: this.online.size, of: all }, `${ids.length === 1 ? `${names} came online` : `${ids.length} devices came online (${names})`}: ${this.online.size} of ${all} online`);
  }

  stop(): void {
    clearTimeout(this.timer);
    clearTimeout(this.flusher);
    for (const off of this.offs) off();
  }
}
