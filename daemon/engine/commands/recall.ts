/** `recall`: call the citizen at the window again (board and voice repeat the call). */
import type { Decider } from '../queries.js';
import { facts, ok, requireCurrent, requireWindow } from '../rules.js';

export const recall: Decider<'recall'> = (q, cmd) => {
  requireWindow(q, cmd.window);
  const t = requireCurrent(q, cmd.window);
  return ok([{ type: 'ticket.recalled', ...facts(t), window: cmd.window, count: t.recalls + 1 }], t.id);
};
