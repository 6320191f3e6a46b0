/** `start`: the called citizen arrived; service begins. */
import type { Decider } from '../queries.js';
import { facts, ok, refuse, requireCurrent, requireWindow } from '../rules.js';

export const start: Decider<'start'> = (q, cmd) => {
  requireWindow(q, cmd.window);
  const t = requireCurrent(q, cmd.window);
  if (t.status !== 'called') refuse('wrong_state', `${t.number} is already being served`);
  return ok([{ type: 'ticket.serving', ...facts(t), window: cmd.window }], t.id);
};
