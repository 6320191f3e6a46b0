/** `attach`: the backend links a ticket to its request (request id, inquiry number); later events carry them. */
import type { Decider } from '../queries.js';
import { facts, inquiryNumber, ok, refuse, requestId, requireTicket } from '../rules.js';

export const attach: Decider<'attach'> = (q, cmd) => {
  const t = requireTicket(q, cmd.ticket);
  if (cmd.requestId === undefined && cmd.inquiry === undefined) refuse('invalid_command', 'attach needs a requestId or an inquiry number');
  const req = requestId(cmd.requestId);
  // The same rule as callInquiry and enqueueInquiry, which must find the ticket by it later.
  const inquiry = cmd.inquiry === undefined ? undefined : inquiryNumber(cmd.inquiry);
  return ok([{ type: 'ticket.attached', ...facts(t), ...(req ? { requestId: req } : {}), ...(inquiry ? { inquiry } : {}) }], t.id);
};
