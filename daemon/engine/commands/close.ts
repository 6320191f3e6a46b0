/** `close`: an idle window stops calling (nothing to do when it is closed). */
import type { Decider } from '../queries.js';
import { ok, refuse, requireWindow } from '../rules.js';

export const close: Decider<'close'> = (q, cmd) => {
  requireWindow(q, cmd.window);
  const w = q.window(cmd.window);
  if (w.current) refuse('window_busy', `window ${cmd.window} still has a citizen: finish first`);
  return ok(w.status === 'closed' ? [] : [{ type: 'window.closed', window: cmd.window }]);
};
