/** `cancel`: a ticket that waits, is parked or missed its call is withdrawn. */
import type { Decider } from '../queries.js';
import { facts, ok, refuse, requireTicket } from '../rules.js';
import { ACTIVE } from '../../../contract/queue.js';

export const cancel: Decider<'cancel'> = (q, cmd) => {
  const t = requireTicket(q, cmd.ticket);
  if (!ACTIVE.has(t.status)) refuse('wrong_state', `${t.number} is already ${t.status}`);
  if (t.status === 'called' || t.status === 'serving') refuse('window_busy', `${t.number} is at window ${t.window}`);
  return ok([{ type: 'ticket.cancelled', ...facts(t), reason: typeof cmd.reason === 'string' ? cmd.reason.slice(0, 120) : 'cancelled' }], t.id);
};
