/**
 * Commands from the backend over the hub's HTTP API (in-process hub, real
 * HTTP, real store): fees set sends the citizen to the treasury queue and a
 * treasury window calls the same number; a finished request is called at a
 * delivery window by its inquiry number; repeats are harmless; a bad token
 * and a malformed body are refused with the reason and change nothing.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCenter } from '../config/load.js';
import { createHub, type Hub } from '../daemon/hub.js';
import { testCenter } from './helpers/hub.js';
import { captureLog } from './helpers/logs.js';

const TOKEN = 'backend-token-for-tests-0123456789';

describe('backend commands (POST /api/v1/commands)', () => {
  let hub: Hub;
  let url: string;
  const post = async (body: unknown, token: string | null = TOKEN) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token !== null ? { authorization: `Bearer ${token}` } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const keypad = (window: number, cmd: 'next' | 'finish' | 'start', id: string) => hub.ctx.core.submit({ type: cmd, window, source: `kp-${window}`, id });

  beforeAll(async () => {
    const { dir, config } = testCenter((doc) => doc.set('forward', doc.createNode({ inbound: { token: TOKEN } })));
    hub = createHub({ center: loadCenter(config, {}), dataDir: join(dir, 'data'), log: captureLog('warn').log, version: 'test' });
    await hub.start();
    url = `http://127.0.0.1:${hub.http.port}/api/v1/commands`;
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('fees set: the intake citizen joins the treasury queue and a treasury window calls the same number', async () => {
    const issued = await hub.ctx.core.submit({ type: 'issue', service: 'intake', source: 'disp-1', id: 'p1' });
    expect(issued.ok && issued.ticket!.number).toBe('A001');
    expect((await keypad(1, 'next', 'k1')).ok).toBe(true);
    const attach = await post({ id: 'att-1', cmd: 'attach', ticket: 'A001', requestId: 'REQ-2026-77', inquiry: '2026-5501' });
    expect(attach).toMatchObject({ status: 200, body: { ok: true, re: 'att-1', duplicate: false, ticket: { t: 'A001', requestId: 'REQ-2026-77', inquiry: '2026-5501' } } });
    expect((await keypad(1, 'finish', 'k2')).ok).toBe(true); // documents handed in; the citizen goes back to the hall

    const fees = await post({ id: 'fees-1', cmd: 'feesSet', requestId: 'REQ-2026-77' });
    expect(fees).toMatchObject({ status: 200, body: { ok: true, ticket: { t: 'A001', service: 'treasury', status: 'waiting' } } });
    const seq = hub.ctx.core.store.lastSeq;
    const again = await post({ id: 'fees-1', cmd: 'feesSet', requestId: 'REQ-2026-77' });
    expect(again).toMatchObject({ status: 200, body: { ok: true, duplicate: true, ticket: { t: 'A001' } } });
    expect(hub.ctx.core.store.lastSeq).toBe(seq); // the repeat changed nothing

    const treasury = hub.ctx.config.windows.find((w) => w.kind === 'treasury')!.number;
    const called = await keypad(treasury, 'next', 'k3');
    expect(called.ok && called.ticket).toMatchObject({ number: 'A001', service: 'treasury', window: treasury, requestId: 'REQ-2026-77' });
  });

  it('ready for a citizen who has today\'s ticket: a ticket still waiting moves to delivery and keeps its number; a finished one does not, the inquiry number is called', async () => {
    const delivery = hub.ctx.config.windows.find((w) => w.kind === 'delivery')!.number;
    // A001 carries inquiry 2026-5501 (attached above) and is at the treasury window: its visit ends there.
    const treasury = hub.ctx.config.windows.find((w) => w.kind === 'treasury')!.number;
    expect((await keypad(treasury, 'finish', 'k3f')).ok).toBe(true);
    const afterDone = await post({ id: 'ready-a', cmd: 'ready', inquiry: '2026-5501' });
    expect(afterDone).toMatchObject({ status: 200, body: { ok: true, ticket: { t: '2026-5501', service: 'delivery', status: 'waiting', inquiry: '2026-5501' } } });
    expect(hub.ctx.core.store.readAfter(hub.ctx.core.store.lastSeq - 1, 10).map((e) => e.type)).toEqual(['ticket.issued']);
    const first = await keypad(delivery, 'next', 'k3n');
    expect(first.ok && first.ticket).toMatchObject({ number: '2026-5501', service: 'delivery', window: delivery });
    expect((await keypad(delivery, 'finish', 'k3d')).ok).toBe(true);

    // A ticket of today still waiting (here: in the intake queue) when the request is ready: moved, same number.
    const issued = await hub.ctx.core.submit({ type: 'issue', service: 'intake', source: 'disp-1', id: 'p-ready' });
    const number = issued.ok ? issued.ticket!.number : '';
    expect((await post({ id: 'att-r', cmd: 'attach', ticket: number, inquiry: '2026-6601' })).status).toBe(200);
    const ready = await post({ id: 'ready-b', cmd: 'ready', inquiry: '2026-6601' });
    expect(ready).toMatchObject({ status: 200, body: { ok: true, ticket: { t: number, service: 'delivery', status: 'waiting', inquiry: '2026-6601' } } });
    expect(hub.ctx.core.store.readAfter(hub.ctx.core.store.lastSeq - 1, 10).map((e) => e.type)).toEqual(['ticket.transferred']);
    const called = await keypad(delivery, 'next', 'k3m');
    expect(called.ok && called.ticket).toMatchObject({ number, inquiry: '2026-6601', service: 'delivery', window: delivery });
    expect((await keypad(delivery, 'finish', 'k3e')).ok).toBe(true);
  });

  it('ready: a citizen with only an inquiry number is called by it at a delivery window', async () => {
    const ready = await post({ id: 'ready-1', cmd: 'ready', inquiry: '2026-88412', requestId: 'REQ-2026-12' });
    expect(ready).toMatchObject({ status: 200, body: { ok: true, ticket: { t: '2026-88412', service: 'delivery', status: 'waiting', requestId: 'REQ-2026-12' } } });
    // Said twice (another id): still one waiting entry.
    expect(await post({ id: 'ready-2', cmd: 'ready', inquiry: '2026-88412' })).toMatchObject({ status: 200, body: { ok: true, ticket: { t: '2026-88412' } } });
    const delivery = hub.ctx.config.windows.find((w) => w.kind === 'delivery')!.number;
    const called = await keypad(delivery, 'next', 'k4');
    expect(called.ok && called.ticket).toMatchObject({ number: '2026-88412', service: 'delivery', window: delivery });
    const next = await keypad(delivery, 'next', 'k5');
    expect(next.ok && next.ticket).toBeUndefined(); // nobody else: the repeat did not queue it twice
  });

  it('refuses a missing or wrong token, a malformed body and a command that cannot apply, and changes nothing', async () => {
    const seq = hub.ctx.core.store.lastSeq;
    expect(await post({ id: 'x1', cmd: 'feesSet', requestId: 'REQ-2026-77' }, null)).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
    expect(await post({ id: 'x2', cmd: 'feesSet', requestId: 'REQ-2026-77' }, `${TOKEN}x`)).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
    expect(await post('{"id":"x3","cmd":')).toMatchObject({ status: 400, body: { error: 'bad_json' } });
    const bad = await post({ id: 'x4', cmd: 'feesSet' });
    expect(bad).toMatchObject({ status: 400, body: { error: 'bad_payload', re: 'x4' } });
    expect(bad.body.message).toContain('exactly one of "ticket", "requestId" or "inquiry"');
    expect(await post({ id: 'x5', cmd: 'explode' })).toMatchObject({ status: 400, body: { error: 'bad_payload' } });
    expect(await post({ id: 'x6', cmd: 'feesSet', requestId: 'NO-SUCH' })).toMatchObject({ status: 404, body: { error: 'unknown_ticket', re: 'x6' } });
    // A command that is well formed but cannot mean anything here: 422 invalid_command, with the reason.

    expect(hub.ctx.core.store.lastSeq).toBe(seq);
    // Well formed but meaningless here (an inquiry number equal to a ticket in use): 422 invalid_command, with the reason, nothing changed.
    const issued = await hub.ctx.core.submit({ type: 'issue', service: 'intake', source: 'disp-1', id: 'p-422' });
    const number = issued.ok ? issued.ticket!.number : '';
    const seq422 = hub.ctx.core.store.lastSeq;
    const invalid = await post({ id: 'x7', cmd: 'ready', inquiry: number });
    if (process.env.INBOUND_DEBUG) console.log(JSON.stringify(invalid.body));
    expect(invalid).toMatchObject({ status: 422, body: { v: 1, re: 'x7', error: 'invalid_command' } });
    expect(invalid.body.message).toContain('inquiry number must differ from ticket numbers');
    expect(hub.ctx.core.store.lastSeq).toBe(seq422);
  });
});
