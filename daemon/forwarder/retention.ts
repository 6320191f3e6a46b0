/**
 * How long the event log keeps events: delivered ones (acknowledged by every
 * configured forwarder) for `forward.keepDays`, for reports; undelivered ones
 * for ever. With no forwarder configured nothing counts as delivered and
 * nothing is deleted. The schedules module runs this every hour.
 */
import type { CenterConfig } from '../../config/schema.js';
import type { Store } from '../store/store.js';
import { BRIDGE_CURSOR } from './bridge.js';
import { CURSOR as WEBHOOK_CURSOR } from './webhook.js';

const DAY = 24 * 3600_000;

export function pruneDelivered(store: Store, config: CenterConfig, now: number): { deleted: number; upTo: number } {
  const cursors = [...(config.forward.webhook ? [store.cursor(WEBHOOK_CURSOR)] : []), ...(config.forward.mqtt ? [store.cursor(BRIDGE_CURSOR)] : [])];
  if (!cursors.length) return { deleted: 0, upTo: 0 };
  const upTo = Math.min(...cursors);
  return { deleted: store.prune(upTo, now - config.forward.keepDays * DAY), upTo };
}
