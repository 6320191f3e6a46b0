/** `transfer`: the citizen at the window is sent on to another service, keeping the same number. */
import type { Decider } from '../queries.js';
import { ok, refuse, requireCurrent, requireService, requireWindow, transferEvent, transferPosition } from '../rules.js';

export const transfer: Decider<'transfer'> = (q, cmd) => {
  requireWindow(q, cmd.window);
  const t = requireCurrent(q, cmd.window);
  const s = requireService(q, cmd.service);
  if (s.id === t.service) refuse('same_service', `${t.number} is already in ${s.id}`);
  return ok([transferEvent(q, t, s, transferPosition(q, s, cmd.position), cmd.window)], t.id);
};
