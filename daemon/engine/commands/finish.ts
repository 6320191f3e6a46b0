/** `finish`: the visit at the window is done. */
import type { Decider } from '../queries.js';
import { doneEvent, ok, requireCurrent, requireWindow } from '../rules.js';

export const finish: Decider<'finish'> = (q, cmd, now) => {
  requireWindow(q, cmd.window);
  const t = requireCurrent(q, cmd.window);
  return ok([doneEvent(t, cmd.window, now)], t.id);
};
