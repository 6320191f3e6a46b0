/** `returnNoShow`: a citizen who missed the call comes back within the grace time and queues again. */
import type { Decider } from '../queries.js';
import { facts, ok, orderFor, refuse, requireTicket } from '../rules.js';

export const returnNoShow: Decider<'returnNoShow'> = (q, cmd, now) => {
  const { noShowGraceMinutes, noShowReturn } = q.config.queue;
  const t = requireTicket(q, cmd.ticket);
  if (t.status !== 'noShow') refuse('wrong_state', `${t.number} is not a no-show`);
  if (now - (t.endedAt ?? now) > noShowGraceMinutes * 60_000)
    refuse('grace_expired', `${t.number} missed its call more than ${noShowGraceMinutes} minutes ago: issue a new ticket`);
  return ok([{ type: 'ticket.returned', ...facts(t), position: noShowReturn, order: orderFor(q, noShowReturn) }], t.id);
};
