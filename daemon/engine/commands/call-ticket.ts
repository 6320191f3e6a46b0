/** `callTicket`: a window calls one waiting ticket by its number, out of turn. */
import type { Decider } from '../queries.js';
import { callEvent, ok, prepareToCall, refuse, requireTicket, requireWindow } from '../rules.js';

export const callTicket: Decider<'callTicket'> = (q, cmd, now) => {
  const w = requireWindow(q, cmd.window);
  const t = requireTicket(q, cmd.ticket);
  if (t.status !== 'waiting') refuse('wrong_state', `${t.number} is not waiting (${t.status})`);
  if (!q.servicesOf(w.number).includes(t.service)) refuse('not_served_here', `window ${w.number} does not serve ${t.service}`);
  const events = prepareToCall(q, cmd.window, now);
  events.push(callEvent(t, cmd.window, 'ticket', now));
  return ok(events, t.id);
};
