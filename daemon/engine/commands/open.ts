/** `open`: a window starts calling (nothing to do when it is open). */
import type { Decider } from '../queries.js';
import { ok, requireWindow } from '../rules.js';

export const open: Decider<'open'> = (q, cmd) => {
  requireWindow(q, cmd.window);
  return ok(q.window(cmd.window).status === 'open' ? [] : [{ type: 'window.opened', window: cmd.window }]);
};
