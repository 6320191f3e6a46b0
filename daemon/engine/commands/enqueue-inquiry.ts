/**
 * `enqueueInquiry`: a request is finished; its citizen waits for `service`
 * (delivery) under the inquiry number: today's ticket linked to it moves
 * there, or, with none, the inquiry number itself is queued.
 */
import type { Decider } from '../queries.js';
import { inquiryNumber, inquiryTicket, ok, refuse, requestId, requireService, transferEvent, transferPosition } from '../rules.js';
import { ACTIVE } from '../../../contract/queue.js';

export const enqueueInquiry: Decider<'enqueueInquiry'> = (q, cmd, now) => {
  const s = requireService(q, cmd.service);
  const inquiry = inquiryNumber(cmd.inquiry);
  const req = requestId(cmd.requestId);
  const today = Object.values(q.state.tickets)
    .filter((x) => x.inquiry === inquiry && ACTIVE.has(x.status))
    .sort((a, b) => b.issuedAt - a.issuedAt)[0];
  if (!today && q.numberInUse(inquiry)) refuse('invalid_command', `"${inquiry}" is the number of a ticket in use: an inquiry number must differ from ticket numbers`);
  if (today) {
    // Already waiting there (the backend said "ready" twice): nothing to do.
    if (today.status === 'waiting' && today.service === s.id) return ok([], today.id);
    if (today.status === 'called' || today.status === 'serving') refuse('wrong_state', `${today.number} is at window ${today.window}`);
    return ok([transferEvent(q, today, s, transferPosition(q, s))], today.id);
  }
  // No ticket today: the citizen is called by the inquiry number itself.
  const ahead = q.waitingCount(s.id);
  const issued = inquiryTicket(q, s.id, inquiry, now, { ...(req ? { requestId: req } : {}), ahead, expectedWaitMin: q.expectedWait(s.id, ahead) });
  return ok([issued.event], issued.ticket.id);
};
