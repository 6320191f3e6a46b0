/**
 * Commands from the request-tracking backend, over HTTP:
 * `POST /api/v1/commands` with `Authorization: Bearer <token>` and one JSON
 * command. They are ordinary engine commands with `source: "backend"` and the
 * command's `id`, so a repeated command is answered from the first result and
 * changes nothing; a refused one changes nothing either.
 *
 *   attach   {id, cmd, ticket, requestId?, inquiry?}   link a ticket to its request
 *   feesSet  {id, cmd, ticket | requestId | inquiry, service?}   the citizen now waits for the treasury
 *   ready    {id, cmd, inquiry, requestId?, service?}   the request is done: a delivery window will call the inquiry number
 *   cancel   {id, cmd, ticket, reason?}
 *
 * Owns: nothing. May touch: the core (submit), the HTTP module's routes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { INBOUND_TOKEN } from '../../config/load.js';
import type { CenterConfig } from '../../config/schema.js';
import type { CoreResult } from '../../contract/ports.js';
import { describeIssues } from '../../contract/protocol.js';
import type { Command, ErrorCode } from '../../contract/queue.js';
import type { HttpRequest } from '../../contract/ports.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';

const id = z.string().min(1).max(64);
const ticket = z.string().min(1).max(32);
const requestId = z.string().min(1).max(64);
const inquiry = z.string().min(1).max(24);
const service = z.string().min(1).max(48);

export const BackendCommand = z.discriminatedUnion('cmd', [
  z.strictObject({ v: z.literal(1).optional(), id, cmd: z.literal('attach'), ticket, requestId: requestId.optional(), inquiry: inquiry.optional() }),
  z
    .strictObject({ v: z.literal(1).optional(), id, cmd: z.literal('feesSet'), ticket: ticket.optional(), requestId: requestId.optional(), inquiry: inquiry.optional(), service: service.optional() })
    .refine((c) => [c.ticket, c.requestId, c.inquiry].filter((x) => x !== undefined).length === 1, { message: 'give exactly one of "ticket", "requestId" or "inquiry"' }),
  z.strictObject({ v: z.literal(1).optional(), id, cmd: z.literal('ready'), inquiry, requestId: requestId.optional(), service: service.optional() }),
  z.strictObject({ v: z.literal(1).optional(), id, cmd: z.literal('cancel'), ticket, reason: z.string().max(120).optional() }),
]);
export type BackendCommand = z.infer<typeof BackendCommand>;

const STATUS: Partial<Record<ErrorCode, number>> = {
  unknown_ticket: 404,
  unknown_service: 404,
  wrong_state: 409,
  window_busy: 409,
  same_service: 409,
  invalid_command: 422,
  storage_failed: 503,
};

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The first service of the first window of a kind: where "fees set" and "ready" send a citizen by default. */
function serviceOfKind(config: CenterConfig, kind: string): string | undefined {
  return config.windows.find((w) => w.kind === kind)?.services[0];
}

export class BackendApi implements HubModule {
  readonly name = 'backend-api';
  private readonly log: Logger;
  private token?: Buffer;
  private handled = 0;
  private refused = 0;

  constructor(private readonly ctx: HubContext) {
    this.log = ctx.log.child({ mod: 'backend-api' });
  }

  start(): void {
    const token = this.ctx.secrets.get(INBOUND_TOKEN);
    if (!token) throw new Error('forward.inbound.token is not set (see the config warnings): backend commands are refused until it is');
    this.token = digest(token);
    this.ctx.routes.route('POST', '/api/v1/commands', (req) => this.handle(req));
  }

  stop(): void {
    this.token = undefined;
  }

  health(): ModuleHealth {
    return { ok: true, detail: { handled: this.handled, refused: this.refused } };
  }

  private authorized(req: HttpRequest): boolean {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    return !!this.token && !!m && timingSafeEqual(digest(m[1]!), this.token);
  }

  private async handle(req: HttpRequest): Promise<{ code: number; body: unknown }> {
    if (!this.authorized(req)) return this.note(refusal(401, 'unauthorized', 'a valid "Authorization: Bearer <token>" header is needed'));
    return this.note(await runBackendCommand(this.ctx, req.body ?? ''));
  }

  private note(r: { code: number; body: Record<string, unknown> }): { code: number; body: unknown } {
    if (r.code === 200) this.handled++;
    else {
      this.refused++;
      this.log.info({ code: r.code, error: r.body.error, re: r.body.re }, `backend command refused: ${String(r.body.message)}`);
    }
    return r;
  }
}

function refusal(code: number, error: string, message: string, re?: string): { code: number; body: Record<string, unknown> } {
  return { code, body: { v: 1, ...(re ? { re } : {}), error, message } };
}

/**
 * One backend command from its raw text, whatever carried it (HTTP here, the
 * upstream MQTT bridge too): parsed, turned into an engine command with
 * `source: backend`, run, and answered with an HTTP-like status and a body.
 */
export async function runBackendCommand(ctx: Pick<HubContext, 'config' | 'core'>, text: string): Promise<{ code: number; body: Record<string, unknown> }> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return refusal(400, 'bad_json', 'the body must be one JSON object');
  }
  const re = json && typeof json === 'object' && typeof (json as { id?: unknown }).id === 'string' ? (json as { id: string }).id : undefined;
  const parsed = BackendCommand.safeParse(json);
  if (!parsed.success) return refusal(400, 'bad_payload', describeIssues(parsed.error), re);
  const cmd = toCommand(ctx.config, parsed.data);
  if ('error' in cmd) return refusal(422, 'invalid_command', cmd.error, re);
  const r: CoreResult = await ctx.core.submit(cmd);
  if (!r.ok) return refusal(STATUS[r.error.code] ?? 422, r.error.code, r.error.message, re);
  const t = r.ticket;
  return {
    code: 200,
    body: {
      v: 1,
      re: parsed.data.id,
      ok: true,
      duplicate: r.duplicate,
      ...(t ? { ticket: { id: t.id, t: t.number, service: t.service, status: t.status, ...(t.requestId ? { requestId: t.requestId } : {}), ...(t.inquiry ? { inquiry: t.inquiry } : {}) } } : {}),
      seq: r.events.at(-1)?.seq ?? null,
    },
  };
}

function toCommand(config: CenterConfig, c: BackendCommand): Command | { error: string } {
  const ref = { source: 'backend', id: c.id };
  switch (c.cmd) {
    case 'attach':
      return { type: 'attach', ticket: c.ticket, ...(c.requestId ? { requestId: c.requestId } : {}), ...(c.inquiry ? { inquiry: c.inquiry } : {}), ...ref };
    case 'feesSet': {
      const s = c.service ?? serviceOfKind(config, 'treasury');
      if (!s) return { error: 'this center has no treasury window: give "service"' };
      return { type: 'requeue', service: s, ...(c.ticket ? { ticket: c.ticket } : {}), ...(c.requestId ? { requestId: c.requestId } : {}), ...(c.inquiry ? { inquiry: c.inquiry } : {}), ...ref };
    }
    case 'ready': {
      const s = c.service ?? serviceOfKind(config, 'delivery');
      if (!s) return { error: 'this center has no delivery window: give "service"' };
      return { type: 'enqueueInquiry', service: s, inquiry: c.inquiry, ...(c.requestId ? { requestId: c.requestId } : {}), ...ref };
    }
    case 'cancel':
      return { type: 'cancel', ticket: c.ticket, ...(c.reason ? { reason: c.reason } : {}), ...ref };
  }
}
