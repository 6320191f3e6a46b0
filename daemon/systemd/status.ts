/** The one line systemd shows for the hub (`systemctl status qhub`): health, devices online, tickets waiting. */
import type { Hub } from '../hub.js';

export function statusLine(hub: Pick<Hub, 'http' | 'ctx'>): string {
  const body = hub.http.healthReport().body;
  const d = body.devices as { online: number; offline: number } | undefined;
  const waiting = hub.ctx.config.services.reduce((n, s) => n + hub.ctx.core.engine.waitingCount(s.id), 0);
  const devices = d ? `${d.online} of ${d.online + d.offline} devices online` : 'no devices';
  return `${String(body.status)}: ${devices}, ${waiting} waiting`;
}
