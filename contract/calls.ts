/**
 * A call as the hall sees it (a board's row, a speaker's announcement): made
 * from a committed `ticket.called` or `ticket.recalled`, with the window's
 * hall zone.
 */
import type { CenterConfig } from '../config/schema.js';
import type { StoredEvent } from './queue.js';

export interface Call {
  seq: number;
  t: string;
  w: number;
  zone: string;
  recall: boolean;
  at: number;
  /** The number called is an inquiry number (a delivery call), not a ticket of today. */
  inquiry?: boolean;
}

/** The events that are calls (what callOf reads): a board's recent numbers come from these alone. */
export const CALL_EVENT_TYPES = ['ticket.called', 'ticket.recalled'] as const;

/** The call a committed event makes (a call or a recall at a window), with the window's hall zone; undefined for other events. */
export function callOf(e: StoredEvent, zoneOf: ReadonlyMap<number, string>): Call | undefined {
  if (e.type !== 'ticket.called' && e.type !== 'ticket.recalled') return undefined;
  const call: Call = { seq: e.seq, t: e.number, w: e.window, zone: zoneOf.get(e.window) ?? 'hall', recall: e.type === 'ticket.recalled', at: e.at };
  if (e.inquiry !== undefined && e.inquiry === e.number) call.inquiry = true;
  return call;
}

export function zonesOf(config: CenterConfig): Map<number, string> {
  return new Map(config.windows.map((w) => [w.number, w.zone]));
}

