/** `noShow`: the called citizen did not come. */
import type { Decider } from '../queries.js';
import { noShowEvent, ok, refuse, requireCurrent, requireWindow } from '../rules.js';

export const noShow: Decider<'noShow'> = (q, cmd) => {
  requireWindow(q, cmd.window);
  const t = requireCurrent(q, cmd.window);
  if (t.status !== 'called') refuse('wrong_state', `${t.number} is being served: finish it instead`);
  return ok([noShowEvent(t, cmd.window)], t.id);
};
