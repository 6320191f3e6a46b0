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
import { INBOUND_TOKEN } from '../../config/load.js';
import type { HttpRequest } from '../../contract/ports.js';
import type { Principal } from '../../contract/roles.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();


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

/** The backend's commands, each an action of the command table (`backend.<cmd>`). */
export const BACKEND_COMMANDS = ['attach', 'feesSet', 'ready', 'cancel'] as const;

const BACKEND: Principal = { name: 'backend', role: 'backend', via: 'token' };

/**
 * One backend command from its raw text, whatever carried it (HTTP here, the
 * upstream MQTT bridge too): the envelope checked (`cmd`, `v`), then run as
 * the action `backend.<cmd>` of the command table as the backend
 * (`source: backend`), and answered with an HTTP-like status and a body.
 */
export async function runBackendCommand(ctx: Pick<HubContext, 'actions'>, text: string): Promise<{ code: number; body: Record<string, unknown> }> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return refusal(400, 'bad_json', 'the body must be one JSON object');
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return refusal(400, 'bad_payload', 'the body must be one JSON object');
  const { cmd, v, ...input } = json as Record<string, unknown>;
  const re = typeof input.id === 'string' ? input.id : undefined;
  if (typeof cmd !== 'string' || !(BACKEND_COMMANDS as readonly string[]).includes(cmd))
    return refusal(400, 'bad_payload', `cmd: must be one of ${BACKEND_COMMANDS.join(', ')}`, re);
  if (v !== undefined && v !== 1) return refusal(400, 'bad_payload', 'v: this hub speaks version 1', re);
  const r = await ctx.actions(`backend.${cmd}`, input, BACKEND);
  if (!r.ok) return refusal(r.status, r.error === 'bad_input' ? 'bad_payload' : r.error, r.message, re);
  const res = r.result as { duplicate: boolean; seq: number | null; ticket?: { id: string; number: string; service: string; status: string; requestId?: string; inquiry?: string } };
  const t = res.ticket;
  return {
    code: 200,
    body: {
      v: 1,
      re,
      ok: true,
      duplicate: res.duplicate,
      ...(t ? { ticket: { id: t.id, t: t.number, service: t.service, status: t.status, ...(t.requestId ? { requestId: t.requestId } : {}), ...(t.inquiry ? { inquiry: t.inquiry } : {}) } } : {}),
      seq: res.seq,
    },
  };
}
