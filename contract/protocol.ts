/**
 * The device protocol's content, whatever carries it (docs/PROTOCOL.md is
 * its description for firmware authors): the version, request payload
 * schemas and the error codes. The MQTT topic layout is in daemon/mqtt/topics.ts;
 * what each device model sends and accepts is in its definition (devices/).
 */
import { z } from 'zod';
import { ERROR_CODES as ENGINE_ERRORS } from './queue.js';

export const PROTOCOL_VERSION = 1;

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
  /** What a person must fix, e.g. `paper_out`; absent or empty when all is well. */
  faults: z.array(z.string().min(1).max(32)).max(8).optional(),
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

export const Played = z.object({ v: version, id: z.union([z.number().int().min(0), z.string().max(64)]) });

/** Short `path: message` text of a zod error, for an error reply a small screen can show. */
export function describeIssues(e: z.ZodError): string {
  return e.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`)
    .join('; ')
    .slice(0, 200);
}
