/** `issue`: a citizen takes a ticket for a service (a dispenser, or reception on their behalf). */
import type { Decider } from '../queries.js';
import { nextNumber, ok, pad, refuse, requireService } from '../rules.js';

export const issue: Decider<'issue'> = (q, cmd) => {
  const s = requireService(q, cmd.service);
  if (cmd.priority !== undefined && (!s.priority || typeof cmd.priority !== 'string' || !cmd.priority))
    refuse('no_priority', `service "${s.id}" has no priority tickets`);
  const n = nextNumber(q, s);
  const issued = (q.state.counters[s.id]?.issued ?? 0) + 1;
  const ahead = cmd.priority ? q.waitingPriorityCount(s.id) : q.waitingCount(s.id);
  const id = `${q.state.day!}/${s.id}/${issued}`;
  return ok(
    [
      {
        type: 'ticket.issued',
        ticket: id,
        number: s.prefix + pad(n, s.last),
        service: s.id,
        n,
        ...(cmd.priority ? { priority: cmd.priority } : {}),
        ...(cmd.source ? { device: cmd.source } : {}),
        ahead,
        expectedWaitMin: q.expectedWait(s.id, ahead),
        order: q.state.nextOrder,
      },
    ],
    id,
  );
};
