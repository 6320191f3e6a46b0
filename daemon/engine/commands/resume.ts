/** `resume`: a parked citizen is called back to a window. */
import type { Decider } from '../queries.js';
import { callEvent, ok, prepareToCall, refuse, requireTicket } from '../rules.js';

export const resume: Decider<'resume'> = (q, cmd, now) => {
  const t = requireTicket(q, cmd.ticket);
  if (t.status !== 'parked') refuse('wrong_state', `${t.number} is not parked`);
  const events = prepareToCall(q, cmd.window, now);
  events.push(callEvent(t, cmd.window, 'resume', now));
  return ok(events, t.id);
};
