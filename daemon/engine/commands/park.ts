/** `park`: the citizen at the window steps aside (to fetch a paper); the window is free. */
import type { Decider } from '../queries.js';
import { facts, ok, requireCurrent, requireWindow } from '../rules.js';

export const park: Decider<'park'> = (q, cmd) => {
  requireWindow(q, cmd.window);
  const t = requireCurrent(q, cmd.window);
  return ok([{ type: 'ticket.parked', ...facts(t), window: cmd.window }], t.id);
};
