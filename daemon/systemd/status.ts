/** The one line systemd shows for the hub (`systemctl status qhub`): health, devices online, tickets waiting. */
export function statusLine(health: { status?: unknown; devices?: unknown }, waiting: number): string {
  const d = health.devices as { online: number; offline: number } | undefined;
  const devices = d ? `${d.online} of ${d.online + d.offline} devices online` : 'no devices';
  return `${String(health.status)}: ${devices}, ${waiting} waiting`;
}
