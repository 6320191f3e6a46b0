/**
 * `assign`: which services a window calls from now on, in pick order (a
 * clerk covers the treasury for an absent colleague). Kept across restarts
 * and rollovers; the citizen at the window now is not affected.
 */
import type { Decider } from '../queries.js';
import { ok, refuse, requireService, requireWindow } from '../rules.js';

export const assign: Decider<'assign'> = (q, cmd) => {
  requireWindow(q, cmd.window);
  const services: unknown = cmd.services;
  if (!Array.isArray(services) || !services.length) refuse('invalid_command', 'assign needs a list of one or more service ids');
  const list = services.map((s: unknown) => requireService(q, s as string).id);
  const twice = list.find((s, i) => list.indexOf(s) !== i);
  if (twice !== undefined) refuse('invalid_command', `service "${twice}" is named twice`);
  const now = q.servicesOf(cmd.window);
  if (now.length === list.length && now.every((s, i) => s === list[i])) return ok([]);
  return ok([{ type: 'window.assigned', window: cmd.window, services: list }]);
};
