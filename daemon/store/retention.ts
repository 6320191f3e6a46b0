/**
 * How long the event log keeps events: delivered ones (acknowledged by every
 * registered reader of the log: the webhook, the MQTT bridge, and whatever
 * reads the log later) for `forward.keepDays`, for reports; undelivered ones
 * for ever. With no reader registered nothing counts as delivered and
 * nothing is deleted. The schedules module runs this every hour.
 */
import type { Store } from './store.js';

const DAY = 24 * 3600_000;

export function pruneDelivered(store: Store, keepDays: number, now: number): { deleted: number; upTo: number; readers: string[] } {
  const readers = store.readers();
  if (!readers.length) return { deleted: 0, upTo: 0, readers };
  const upTo = Math.min(...readers.map((r) => store.cursor(r)));
  return { deleted: store.prune(upTo, now - keepDays * DAY), upTo, readers };
}
