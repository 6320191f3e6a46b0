/**
 * Who may act on the hub, and as whom an action is recorded. People log in
 * with a role from the config (`hub.users`); the technician on the Pi itself
 * reaches the hub through the local socket; the backend through its token.
 * Devices are never principals of the API, users never devices of MQTT.
 */
import { ROLES, type Role } from '../config/schema.js';

export { ROLES, type Role };

/** Roles no config line gives: the local socket's technician, the backend's token. */
export type SystemRole = 'technician' | 'backend';

export interface Principal {
  /** What the event log records as `source`: the user name, `cli:<login>` for the socket, `backend`. */
  name: string;
  role: Role | SystemRole;
  /** A clerk's windows; absent: not bound (every other role). */
  windows?: readonly number[];
  /** How this principal proved who it is. */
  via: 'cookie' | 'bearer' | 'socket' | 'token';
}

/** What each role may do, in words (docs/API.md; the command table holds the rules). */
export const ROLE_SUMMARY: Record<Role | SystemRole, string> = {
  supervisor: 'everything in the center: windows, queues, tickets, assignments, reads',
  clerk: 'the window actions of the windows the user is bound to, and reads',
  reception: 'issue a ticket on a citizen’s behalf, reprint, and reads',
  viewer: 'reads only',
  technician: 'everything a supervisor may, from the Pi itself (the local socket, root or the service group)',
  backend: 'the request-tracking backend’s commands (attach, feesSet, ready, cancel), with its token',
};
