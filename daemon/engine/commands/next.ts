/** `next`: a window calls the next citizen of the services it calls now (ending the current visit as configured). */
import type { Decider } from '../queries.js';
import { callEvent, ok, pick, prepareToCall, requireWindow } from '../rules.js';

export const next: Decider<'next'> = (q, cmd, now) => {
  const w = requireWindow(q, cmd.window);
  const events = prepareToCall(q, cmd.window, now);
  const t = pick(q, w);
  if (t) events.push(callEvent(t, cmd.window, 'next', now));
  return ok(events, t?.id);
};
