/**
 * Module `hall-log`: one readable journal line per ticket issued and per call
 * ("A042 → window 3, by kp-3"), so a technician can follow the hall with
 * `journalctl -u qhub -f`; and devices coming online, gathered over a second
 * into one line (a hall starting up is one line, not fifty). Reads the
 * committed events and device presence; changes nothing.
 *
 * Owns: nothing. May touch: the bus (listens to `committed`, `device.online`, `device.offline`).
 */
import type { Logger } from 'pino';
import type { StoredEvent } from './engine/types.js';
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

export class HallLog implements HubModule {
  readonly name = 'hall-log';
  private readonly log: Logger;
  private offs: (() => void)[] = [];
  private readonly online = new Set<string>();
  private arrived: string[] = [];
  private timer?: NodeJS.Timeout;

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
        if (line) this.log.info({ seq: e.seq, event: e.type, ...('number' in e ? { ticket: e.number } : {}), ...('window' in e ? { window: e.window } : {}), ...(e.source ? { source: e.source } : {}) }, line);
      }
    }));
  }

  private sayArrived(): void {
    this.timer = undefined;
    const ids = this.arrived;
    this.arrived = [];
    const all = this.ctx.config.devices.filter((d) => d.enabled).length;
    const names = ids.length > 12 ? `${ids.slice(0, 12).join(', ')} and ${ids.length - 12} more` : ids.join(', ');
    this.log.info({ devices: ids, online: this.online.size, of: all }, `${ids.length === 1 ? `${names} came online` : `${ids.length} devices came online (${names})`}: ${this.online.size} of ${all} online`);
  }

  stop(): void {
    clearTimeout(this.timer);
    for (const off of this.offs) off();
  }
}
