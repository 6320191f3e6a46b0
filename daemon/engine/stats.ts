/**
 * Figures kept from the events: waits, service times and no-shows per
 * service, per window and per local hour. A pure fold, so a report can be
 * rebuilt for any stretch of the event log.
 */
import { localHour } from './clock.js';
import type { QueueEvent } from '../../contract/queue.js';

export interface Figure {
  issued: number;
  called: number;
  waitMsTotal: number;
  waitMsMax: number;
  served: number;
  serviceMsTotal: number;
  noShows: number;
}

const empty = (): Figure => ({ issued: 0, called: 0, waitMsTotal: 0, waitMsMax: 0, served: 0, serviceMsTotal: 0, noShows: 0 });

export interface FigureView extends Figure {
  meanWaitMin: number | null;
  meanServiceMin: number | null;
}

function view(f: Figure): FigureView {
  return {
    ...f,
    meanWaitMin: f.called ? Math.round((f.waitMsTotal / f.called / 60_000) * 10) / 10 : null,
    meanServiceMin: f.served ? Math.round((f.serviceMsTotal / f.served / 60_000) * 10) / 10 : null,
  };
}

export class Figures {
  readonly byService = new Map<string, Figure>();
  readonly byWindow = new Map<number, Figure>();
  readonly byHour = new Map<number, Figure>();

  constructor(private readonly timezone: string) {}

  private rows(e: QueueEvent, service: string | undefined, window: number | undefined): Figure[] {
    const out: Figure[] = [];
    const get = <K>(m: Map<K, Figure>, k: K) => {
      let f = m.get(k);
      if (!f) m.set(k, (f = empty()));
      out.push(f);
    };
    if (service !== undefined) get(this.byService, service);
    if (window !== undefined && window > 0) get(this.byWindow, window);
    get(this.byHour, localHour(e.at, this.timezone));
    return out;
  }

  add(e: QueueEvent): void {
    switch (e.type) {
      case 'ticket.issued':
        if (e.n > 0) for (const f of this.rows(e, e.service, undefined)) f.issued++;
        return;
      case 'ticket.called':
        if (e.how === 'resume') return;
        for (const f of this.rows(e, e.service, e.window)) {
          f.called++;
          f.waitMsTotal += e.waitMs;
          f.waitMsMax = Math.max(f.waitMsMax, e.waitMs);
        }
        return;
      case 'ticket.done':
        if (e.reason === 'rollover') return;
        for (const f of this.rows(e, e.service, e.window)) {
          f.served++;
          f.serviceMsTotal += e.serviceMs;
        }
        return;
      case 'ticket.noShow':
        for (const f of this.rows(e, e.service, e.window)) f.noShows++;
        return;
      default:
        return;
    }
  }

  report(): { byService: Record<string, FigureView>; byWindow: Record<string, FigureView>; byHour: Record<string, FigureView> } {
    const obj = <K>(m: Map<K, Figure>) => Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, f]) => [String(k), view(f)]));
    return { byService: obj(this.byService), byWindow: obj(this.byWindow), byHour: obj(this.byHour) };
  }
}
