/**
 * `requeue`: the backend sends a citizen to another service (fees set: the
 * treasury), found by ticket, request id or inquiry number; today's latest
 * ticket of the request keeps its number.
 */
import type { Decider } from '../queries.js';
import { ok, refuse, requireService, requireTicket, transferEvent, transferPosition } from '../rules.js';
import type { Ticket } from '../../../contract/queue.js';

export const requeue: Decider<'requeue'> = (q, cmd) => {
  const s = requireService(q, cmd.service);
  let t: Ticket | undefined;
  if (cmd.ticket !== undefined) t = requireTicket(q, cmd.ticket);
  else {
    t = Object.values(q.state.tickets)
      .filter((x) => (cmd.requestId && x.requestId === cmd.requestId) || (cmd.inquiry && x.inquiry === cmd.inquiry))
      .sort((a, b) => b.issuedAt - a.issuedAt)[0];
    if (!t) refuse('unknown_ticket', `no ticket today for ${cmd.requestId ? `request ${cmd.requestId}` : `inquiry ${String(cmd.inquiry)}`}`);
  }
  if (t.status === 'called' || t.status === 'serving') refuse('wrong_state', `${t.number} is at window ${t.window}: transfer it from there`);
  if (t.status === 'waiting' && t.service === s.id) refuse('same_service', `${t.number} already waits for ${s.id}`);
  return ok([transferEvent(q, t, s, transferPosition(q, s, cmd.position))], t.id);
};
