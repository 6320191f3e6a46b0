/** `pause`: an open, idle window stops calling for a while, with a reason the board can show. */
import type { Decider } from '../queries.js';
import { ok, refuse, requireWindow } from '../rules.js';

export const pause: Decider<'pause'> = (q, cmd) => {
  requireWindow(q, cmd.window);
  const w = q.window(cmd.window);
  if (w.current) refuse('window_busy', `window ${cmd.window} still has a citizen: finish first`);
  if (w.status === 'closed') refuse('window_closed');
  const reason = typeof cmd.reason === 'string' && cmd.reason.trim() ? cmd.reason.trim().slice(0, 120) : 'break';
  return ok([{ type: 'window.paused', window: cmd.window, reason }]);
};
