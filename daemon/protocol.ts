/**
 * The device protocol over MQTT (docs/PROTOCOL.md is its description for
 * firmware authors): topic layout, what each device kind may publish and
 * subscribe to, request payload schemas and the error codes.
 *
 *   qhub/hub/status                 hub → all     retained  {"v":1,"state":"online"|"offline",...}
 *   qhub/dev/{id}/status            device → all  retained  online (with model, fw) / offline (last will)
 *   qhub/dev/{id}/press             dispenser → hub          a button press
 *   qhub/dev/{id}/ticket            hub → dispenser          the ticket to print
 *   qhub/dev/{id}/cmd               keypad → hub             next, recall, done, ...
 *   qhub/dev/{id}/screen            hub → keypad  retained   the keypad's screen
 *   qhub/dev/{id}/display           hub → board/display retained  what to show
 *   qhub/dev/{id}/announce          hub → speaker            one call to announce
 *   qhub/dev/{id}/played            speaker → hub            an announcement finished (optional)
 *   qhub/dev/{id}/error             hub → device             a request was refused
 */
import { z } from 'zod';
import type { DeviceKind } from '../config/schema.js';
import { ERROR_CODES as ENGINE_ERRORS } from './engine/types.js';

export const PROTOCOL_VERSION = 1;
export const ROOT = 'qhub';
export const HUB_STATUS = `${ROOT}/hub/status`;

export const devTopic = (id: string, leaf: string) => `${ROOT}/dev/${id}/${leaf}`;

/** What each kind may publish (device → hub). */
export const PUBLISH: Record<DeviceKind, readonly string[]> = {
  dispenser: ['status', 'press'],
  keypad: ['status', 'cmd'],
  board: ['status'],
  display: ['status'],
  speaker: ['status', 'played'],
};

/** What each kind receives (hub → device); it may subscribe to these, to `+` or `#` under its own id, and to the hub status. */
export const RECEIVE: Record<DeviceKind, readonly string[]> = {
  dispenser: ['ticket', 'error'],
  keypad: ['screen', 'error'],
  board: ['display', 'error'],
  display: ['display', 'error'],
  speaker: ['announce', 'error'],
};

/** Parses `qhub/dev/{id}/{leaf}`; undefined for anything else. */
export function parseDevTopic(topic: string): { id: string; leaf: string } | undefined {
  const parts = topic.split('/');
  if (parts.length !== 4 || parts[0] !== ROOT || parts[1] !== 'dev' || !parts[2] || !parts[3]) return undefined;
  return { id: parts[2], leaf: parts[3] };
}

export const PROTOCOL_ERRORS = {
  bad_json: 'the payload is not JSON',
  bad_payload: 'the payload does not match the protocol',
  unsupported_version: 'this hub speaks protocol version 1',
  unknown_command: 'no such command',
  too_large: 'the payload is too large',
  rate_limited: 'too many messages: slow down',
  forbidden: 'this device may not use that topic',
  not_bound: 'this device is not bound to what the request needs',
  shutting_down: 'the hub is restarting: try again in a few seconds',
} as const;

export type ProtocolErrorCode = keyof typeof PROTOCOL_ERRORS | keyof typeof ENGINE_ERRORS;

export const ALL_ERRORS: Record<ProtocolErrorCode, string> = { ...ENGINE_ERRORS, ...PROTOCOL_ERRORS };

const version = z.literal(PROTOCOL_VERSION).optional();
const reqId = z.string().min(1).max(64);
const ticketRef = z.string().min(1).max(32);

export const Status = z.object({
  v: version,
  state: z.enum(['online', 'offline']),
  model: z.string().max(64).optional(),
  fw: z.string().max(32).optional(),
});

/** A dispenser's press: by service id or by button number (1-based, in the order of its bound services). */
export const Press = z
  .strictObject({
    v: version,
    id: reqId,
    service: z.string().max(48).optional(),
    button: z.number().int().min(1).max(32).optional(),
    priority: z.string().min(1).max(32).optional(),
  })
  .refine((p) => (p.service === undefined) !== (p.button === undefined), { message: 'give exactly one of "service" or "button"' });

const cmd = <T extends string, S extends z.ZodRawShape>(name: T, shape: S) =>
  z.strictObject({ v: version, id: reqId, cmd: z.literal(name), window: z.number().int().optional(), ...shape });

/** A keypad's command. The window is the keypad's own; a different `window` is refused. */
export const KeypadCommand = z.discriminatedUnion('cmd', [
  cmd('next', {}),
  cmd('recall', {}),
  cmd('start', {}),
  cmd('done', {}),
  cmd('noShow', {}),
  cmd('return', { ticket: ticketRef }),
  cmd('transfer', { service: z.string().min(1).max(48), position: z.enum(['front', 'back']).optional() }),
  cmd('park', {}),
  cmd('resume', { ticket: ticketRef }),
  cmd('call', { ticket: ticketRef }),
  cmd('callInquiry', { inquiry: z.string().min(1).max(24) }),
  cmd('open', {}),
  cmd('pause', { reason: z.string().max(120).optional() }),
  cmd('close', {}),
  cmd('screen', {}),
]);
export type KeypadCommand = z.infer<typeof KeypadCommand>;
export const KEYPAD_COMMANDS = KeypadCommand.options.map((o) => o.shape.cmd.value);

export const Played = z.object({ v: version, id: z.string().max(64) });

/** Short `path: message` text of a zod error, for an error reply a small screen can show. */
export function describeIssues(e: z.ZodError): string {
  return e.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`)
    .join('; ')
    .slice(0, 200);
}
