/**
 * `callInquiry`: a window calls a citizen by the inquiry number of their
 * request: the ticket linked to it when one waits (or is parked), else the
 * inquiry number itself, queued in the window's first service and called.
 */
import type { Decider } from '../queries.js';
import { callEvent, inquiryNumber, inquiryTicket, ok, prepareToCall, refuse, requireWindow } from '../rules.js';

export const callInquiry: Decider<'callInquiry'> = (q, cmd, now) => {
  const w = requireWindow(q, cmd.window);
  const inquiry = inquiryNumber(cmd.inquiry);
  const events = prepareToCall(q, cmd.window, now);
  const existing = Object.values(q.state.tickets).find((t) => t.inquiry === inquiry && (t.status === 'waiting' || t.status === 'parked'));
  if (!existing && q.numberInUse(inquiry)) refuse('invalid_command', `"${inquiry}" is the number of a ticket in use: call it with "call", or give the inquiry number`);
  if (existing) {
    events.push(callEvent(existing, cmd.window, 'inquiry', now));
    return ok(events, existing.id);
  }
  // The citizen holds no ticket for it: the board shows the inquiry number itself.
  const issued = inquiryTicket(q, q.servicesOf(w.number)[0]!, inquiry, now, { ahead: 0, expectedWaitMin: 0 });
  events.push(issued.event, callEvent(issued.ticket, cmd.window, 'inquiry', now));
  return ok(events, issued.ticket.id);
};
