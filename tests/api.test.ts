/**
 * The people's door: users and roles, the command table over HTTP and the
 * local socket, against the real daemon (child process), real devices over
 * MQTT, a real webhook receiver and the real SQLite store.
 */
import { createServer, type Server } from 'node:http';
import { createConnection } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hashPassword } from '../daemon/api/auth.js';
import { ACTIONS } from '../daemon/api/actions.js';
import { connectDevice, exampleSecrets, startHub, testCenter, type RunningHub, type TestDevice } from './helpers/hub.js';

const secrets = exampleSecrets();
const PW = { boss: 'boss-password-1', clerk2: 'clerk2-password', desk: 'reception-pass', watcher: 'viewer-password' };

interface Api {
  base: string;
  call(method: string, path: string, o?: { body?: unknown; token?: string; cookie?: string; csrf?: string; raw?: string }): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;
  login(name: string, password: string, bearer?: boolean): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;
}

function api(port: number): Api {
  const base = `http://127.0.0.1:${port}`;
  const call: Api['call'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    if (o.cookie) headers.cookie = o.cookie;
    if (o.csrf) headers['x-csrf-token'] = o.csrf;
    const r = await fetch(base + path, { method, headers, ...(method === 'GET' ? {} : { body: o.raw ?? JSON.stringify(o.body ?? {}) }) });
    const text = await r.text();
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { text };
    }
    return { status: r.status, body, headers: r.headers };
  };
  return { base, call, login: (name, password, bearer = true) => call('POST', '/api/v1/login', { body: { name, password, bearer } }) };
}

/** The webhook receiver: every forwarded event. */
async function receiver(): Promise<{ server: Server; url: string; events: Record<string, unknown>[] }> {
  const events: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      try {
        events.push(...(JSON.parse(body) as { events: Record<string, unknown>[] }).events);
      } catch {
        /* not a batch */
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, events };
}

/** One request over the hub's local socket. */
function viaSocket(path: string, req: Record<string, unknown>): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) {
        s.end();
        resolve(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      }
    });
    s.on('error', reject);
    s.write(`${JSON.stringify(req)}\n`);
  });
}

describe('the people’s door: users, roles, the command table', () => {
  let hub: RunningHub;
  let a: Api;
  let dataDir: string;
  let rx: Awaited<ReturnType<typeof receiver>>;
  const devs: Record<string, TestDevice> = {};
  const dev = async (id: string) => (devs[id] ??= await connectDevice(hub.mqttPort, id, secrets[id]!));
  const tokens: Record<string, string> = {};
  const seq = () => {
    const db = new Database(join(dataDir, 'qhub.db'), { readonly: true });
    try {
      return (db.prepare('SELECT max(seq) AS s FROM events').get() as { s: number }).s;
    } finally {
      db.close();
    }
  };
  const events = (): Record<string, unknown>[] => {
    const db = new Database(join(dataDir, 'qhub.db'), { readonly: true });
    try {
      return (db.prepare('SELECT seq, body FROM events ORDER BY seq').all() as { seq: number; body: string }[]).map((r) => ({ seq: r.seq, ...(JSON.parse(r.body) as object) }));
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    rx = await receiver();
    const users = [
      { name: 'boss', role: 'supervisor', password: await hashPassword(PW.boss) },
      { name: 'clerk2', role: 'clerk', windows: [2], password: await hashPassword(PW.clerk2) },
      { name: 'desk', role: 'reception', password: await hashPassword(PW.desk) },
      { name: 'watcher', role: 'viewer', password: await hashPassword(PW.watcher) },
    ];
    const { dir, config } = testCenter((doc) => {
      doc.setIn(['hub', 'users'], doc.createNode(users));
      doc.set('forward', doc.createNode({ webhook: { url: rx.url, secret: 'webhook-secret-for-tests', lingerMs: 10, maxBackoffMs: 500 } }));
    });
    dataDir = join(dir, 'data');
    hub = await startHub(config, dataDir);
    a = api(hub.httpPort);
    for (const [name, pw] of Object.entries(PW)) {
      const r = await a.login(name, pw);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      tokens[name] = r.body.token as string;
    }
    // A few citizens waiting for intake, and one for treasury.
    const disp = await dev('disp-1');
    for (let i = 0; i < 4; i++) await disp.request('press', { service: 'intake' }, 'ticket');
    await disp.request('press', { service: 'treasury' }, 'ticket');
  });

  afterAll(async () => {
    await Promise.all(Object.values(devs).map((d) => d.close()));
    expect(await hub?.stop()).toBe(0);
    rx?.server.close();
  });

  it('a clerk of window 2 calls next through the API: the board shows it, the speaker announces it, the log and the forwarded event name the clerk', async () => {
    const board = await dev('board-1');
    const speaker = await dev('speaker-1');
    const since = { board: board.mark(), speaker: speaker.mark() };
    const r = await a.call('POST', '/api/v1/windows.next', { token: tokens.clerk2, body: { window: 2 } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const number = (r.body.ticket as { number: string }).number;
    expect(number).toBe('A001');
    expect(r.body.window).toMatchObject({ number: 2, status: 'open', current: { number: 'A001', status: 'called' } });
    await board.waitFor('display', (b) => (b.flash as { t?: string; w?: number } | null)?.t === 'A001' && (b.flash as { w: number }).w === 2, 5000, since.board);
    const ann = await speaker.waitFor('announce', (b) => b.t === 'A001' && b.w === 2, 5000, since.speaker);
    expect(ann.recall).toBe(false);
    const called = events().find((e) => e.type === 'ticket.called' && e.number === 'A001');
    expect(called).toMatchObject({ window: 2, source: 'clerk2' });
    await vi.waitFor(() => expect(rx.events.find((e) => e.type === 'ticket.called' && e.number === 'A001')).toMatchObject({ source: 'clerk2', window: 2 }), { timeout: 10_000 });
  });

  it('the same clerk is refused window 3 (403) and nothing changes; a viewer cannot write; reception cannot call', async () => {
    const before = seq();
    const r = await a.call('POST', '/api/v1/windows.next', { token: tokens.clerk2, body: { window: 3 } });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ error: 'forbidden' });
    expect(String(r.body.message)).toContain('window 2');
    const v = await a.call('POST', '/api/v1/windows.open', { token: tokens.watcher, body: { window: 1 } });
    expect(v.status).toBe(403);
    const rc = await a.call('POST', '/api/v1/windows.next', { token: tokens.desk, body: { window: 1 } });
    expect(rc.status).toBe(403);
    expect(seq()).toBe(before);
    // Reading is allowed to every role.
    for (const who of Object.keys(PW)) expect((await a.call('GET', '/api/v1/queues', { token: tokens[who] })).status).toBe(200);
  });

  it('the new supervisor actions refuse the wrong person: self-test, backup, reports and today’s figures', async () => {
    const before = seq();
    // The morning check: not a clerk, not a viewer, not reception (403); nothing logged.
    for (const who of ['clerk2', 'watcher', 'desk']) expect((await a.call('POST', '/api/v1/hub.selftest', { token: tokens[who], body: {} })).status).toBe(403);
    // A backup is the technician's (the local socket): even the supervisor is refused over HTTP.
    for (const who of Object.keys(PW)) expect((await a.call('POST', '/api/v1/hub.backup', { token: tokens[who], body: {} })).status).toBe(403);
    expect(seq()).toBe(before);
    // Reports: supervisors only among these; today's figures: not a clerk or reception.
    for (const who of ['clerk2', 'watcher', 'desk']) expect((await a.call('GET', '/api/v1/report?format=csv&lang=en', { token: tokens[who] })).status).toBe(403);
    expect((await a.call('GET', '/api/v1/report?format=csv&lang=en', { token: tokens.boss })).status).toBe(200);
    for (const who of ['clerk2', 'desk']) expect((await a.call('GET', '/api/v1/today', { token: tokens[who] })).status).toBe(403);
    expect((await a.call('GET', '/api/v1/today', { token: tokens.watcher })).status).toBe(200);
    // No login at all: 401 for each.
    expect((await a.call('GET', '/api/v1/today', {})).status).toBe(401);
    expect((await a.call('POST', '/api/v1/hub.selftest', { body: {} })).status).toBe(401);
  });

  it('refuses a device’s credentials: no login as a device, no device secret as a token, no request without a session', async () => {
    const l = await a.login('kp-1', secrets['kp-1']!);
    expect(l.status).toBe(401);
    expect(String(l.body.message)).toMatch(/devices cannot use the API/);
    expect((await a.call('GET', '/api/v1/status', { token: secrets['kp-1'] })).status).toBe(401);
    expect((await a.call('GET', '/api/v1/status')).status).toBe(401);
    expect((await a.call('POST', '/api/v1/windows.next', { body: { window: 1 } })).status).toBe(401);
  });

  it('a cookie session must send its CSRF token with every write; with it, the write goes through', async () => {
    const l = await a.login('boss', PW.boss, false);
    expect(l.status).toBe(200);
    const setCookie = l.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    const cookie = setCookie.split(';')[0]!;
    const csrf = l.body.csrf as string;
    const before = seq();
    const no = await a.call('POST', '/api/v1/windows.open', { cookie, body: { window: 1 } });
    expect(no.status).toBe(403);
    expect(no.body.error).toBe('csrf');
    const wrong = await a.call('POST', '/api/v1/windows.open', { cookie, csrf: 'not-the-token', body: { window: 1 } });
    expect(wrong.status).toBe(403);
    expect(seq()).toBe(before);
    const ok = await a.call('POST', '/api/v1/windows.open', { cookie, csrf, body: { window: 1 } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((ok.body.window as { status: string }).status).toBe('open');
    // Reads need no token; /me gives the token back to a page that reloaded.
    const me = await a.call('GET', '/api/v1/me', { cookie });
    expect(me.body).toMatchObject({ user: { name: 'boss', role: 'supervisor' }, csrf });
    const out = await a.call('POST', '/api/v1/logout', { cookie, csrf });
    expect(out.status).toBe(200);
    expect((await a.call('GET', '/api/v1/me', { cookie })).status).toBe(401);
  });

  it('wrong passwords are refused, then throttled (429), and the journal gets a bounded number of lines', async () => {
    const linesBefore = hub.logs.filter((l) => l.msg === 'login refused' || String(l.msg).startsWith('logins refused')).length;
    const codes: number[] = [];
    for (let i = 0; i < 40; i++) codes.push((await a.login('watcher', `wrong-${i}`)).status);
    expect(codes.slice(0, 3)).toEqual([401, 401, 401]);
    expect(codes).toContain(429);
    expect(codes.filter((c) => c === 200)).toHaveLength(0);
    const lines = hub.logs.filter((l) => l.msg === 'login refused' || String(l.msg).startsWith('logins refused')).length - linesBefore;
    expect(lines).toBeLessThanOrEqual(4);
    // An unknown user is refused the same way.
    expect((await a.login('nobody', 'whatever-pass')).status).toBeGreaterThanOrEqual(401);
  });

  it('bad input gets a clear error: malformed JSON, an unknown action, a missing field, an unknown window', async () => {
    const t = tokens.boss;
    const bad = await a.call('POST', '/api/v1/windows.next', { token: t, raw: '{"window": 2' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('bad_json');
    expect((await a.call('POST', '/api/v1/windows.fly', { token: t, body: {} })).status).toBe(404);
    const missing = await a.call('POST', '/api/v1/windows.transfer', { token: t, body: { window: 2 } });
    expect(missing.status).toBe(400);
    expect(String(missing.body.message)).toMatch(/service/);
    const unknown = await a.call('POST', '/api/v1/windows.next', { token: t, body: { window: 99 } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('unknown_window');
    const big = await a.call('POST', '/api/v1/windows.next', { token: t, raw: JSON.stringify({ window: 2, pad: 'x'.repeat(70_000) }) });
    expect(big.status).toBe(413);
    // The hub keeps serving.
    expect((await a.call('GET', '/api/v1/status', { token: t })).status).toBe(200);
  });

  it('every window action through the API, as a supervisor, each recorded with its user', async () => {
    const t = tokens.boss;
    const post = (name: string, body: Record<string, unknown>) => a.call('POST', `/api/v1/${name}`, { token: t, body });
    const ok = async (name: string, body: Record<string, unknown>) => {
      const r = await post(name, body);
      expect(r.status, `${name}: ${JSON.stringify(r.body)}`).toBe(200);
      return r.body;
    };
    expect((await ok('windows.next', { window: 3 })).ticket).toMatchObject({ number: 'A002', status: 'called' });
    expect((await ok('windows.recall', { window: 3 })).events).toEqual(['ticket.recalled']);
    expect((await ok('windows.start', { window: 3 })).ticket).toMatchObject({ status: 'serving' });
    expect((await ok('windows.park', { window: 3 })).ticket).toMatchObject({ number: 'A002', status: 'parked' });
    expect((await ok('windows.resume', { window: 3, ticket: 'A002' })).ticket).toMatchObject({ status: 'called', window: 3 });
    expect((await ok('windows.done', { window: 3 })).ticket).toMatchObject({ number: 'A002', status: 'done' });
    expect((await ok('windows.call', { window: 3, ticket: 'A004' })).ticket).toMatchObject({ number: 'A004', status: 'called' });
    expect((await ok('windows.noShow', { window: 3 })).ticket).toMatchObject({ number: 'A004', status: 'noShow' });
    expect((await ok('tickets.return', { ticket: 'A004' })).ticket).toMatchObject({ number: 'A004', status: 'waiting' });
    expect((await ok('windows.next', { window: 3 })).ticket).toMatchObject({ number: 'A004' });
    expect((await ok('windows.transfer', { window: 3, service: 'treasury' })).ticket).toMatchObject({ number: 'A004', service: 'treasury', status: 'waiting' });
    expect((await ok('windows.pause', { window: 3, reason: 'prayer' })).window).toMatchObject({ status: 'paused', reason: 'prayer' });
    expect((await ok('windows.close', { window: 3 })).window).toMatchObject({ status: 'closed' });
    expect((await ok('windows.open', { window: 3 })).window).toMatchObject({ status: 'open' });
    const inquiry = await ok('windows.callInquiry', { window: 7, inquiry: '2026-7781' });
    expect(inquiry.ticket).toMatchObject({ number: '2026-7781', status: 'called', window: 7 });
    expect((await ok('tickets.cancel', { ticket: 'A003', reason: 'left the center' })).ticket).toMatchObject({ number: 'A003', status: 'cancelled' });
    // A refused action tells why, with the engine's code.
    const busy = await post('windows.pause', { window: 7 });
    expect(busy.status).toBe(409);
    expect(busy.body.error).toBe('window_busy');
    // Retrying with the same id changes nothing and returns the first answer.
    await (await dev('disp-1')).request('press', { service: 'intake' }, 'ticket');
    const first = await ok('windows.next', { window: 4, id: 'retry-1' });
    const again = await ok('windows.next', { window: 4, id: 'retry-1' });
    expect(again.duplicate).toBe(true);
    expect((again.ticket as { number: string }).number).toBe((first.ticket as { number: string }).number);
    const mine = events().filter((e) => e.source === 'boss').map((e) => e.type);
    for (const type of ['ticket.called', 'ticket.recalled', 'ticket.serving', 'ticket.parked', 'ticket.done', 'ticket.noShow', 'ticket.returned', 'ticket.transferred', 'window.paused', 'window.closed', 'window.opened', 'ticket.cancelled'])
      expect(mine, type).toContain(type);
  });

  it('reception issues a ticket on a citizen’s behalf, prints it on a dispenser, and reprints it', async () => {
    const disp = await dev('disp-1');
    const since = disp.mark();
    const r = await a.call('POST', '/api/v1/tickets.issue', { token: tokens.desk, body: { service: 'complaints', print: 'disp-1' } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const number = (r.body.ticket as { number: string }).number;
    expect(r.body.printed).toEqual({ device: 'disp-1' });
    const printed = await disp.waitFor('ticket', (b) => (b.ticket as { t: string }).t === number, 5000, since);
    expect(String(printed.re)).toMatch(/^hub:print:/);
    expect(events().find((e) => e.type === 'ticket.issued' && e.number === number)).toMatchObject({ source: 'desk' });
    const again = await a.call('POST', '/api/v1/tickets.reprint', { token: tokens.desk, body: { ticket: number } });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    await disp.waitFor('ticket', (b) => (b.ticket as { t: string }).t === number && b.re !== printed.re, 5000, since);
    // A dispenser that is not there: a clear refusal, nothing printed.
    const off = await a.call('POST', '/api/v1/tickets.reprint', { token: tokens.desk, body: { ticket: number, device: 'disp-2' } });
    expect(off.status).toBe(409);
    expect(off.body.error).toBe('offline');
    // A clerk may not issue tickets.
    expect((await a.call('POST', '/api/v1/tickets.issue', { token: tokens.clerk2, body: { service: 'intake' } })).status).toBe(403);
  });

  it('reads: status, windows, one window, queues, a ticket, devices with presence, the action list', async () => {
    const t = tokens.watcher;
    const status = await a.call('GET', '/api/v1/status', { token: t });
    expect(status.body).toMatchObject({ center: expect.any(String), seq: seq() });
    expect((status.body.devices as { online: number }).online).toBeGreaterThan(0);
    const windows = await a.call('GET', '/api/v1/windows', { token: t });
    expect((windows.body as unknown as unknown[]).length).toBeGreaterThan(3);
    const w2 = await a.call('GET', '/api/v1/window?window=2', { token: t });
    expect(w2.body).toMatchObject({ number: 2, kind: 'intake', services: ['intake'] });
    const queues = (await a.call('GET', '/api/v1/queues', { token: t })).body as unknown as { service: string; waiting: number }[];
    const treasury = queues.find((q) => q.service === 'treasury')!;
    expect(treasury.waiting).toBeGreaterThanOrEqual(2);
    const ticket = await a.call('GET', '/api/v1/ticket?ticket=A004', { token: t });
    expect(ticket.body).toMatchObject({ number: 'A004', service: 'treasury', status: 'waiting' });
    expect((await a.call('GET', '/api/v1/ticket?ticket=Z999', { token: t })).status).toBe(404);
    const devices = (await a.call('GET', '/api/v1/devices', { token: t })).body as unknown as { id: string; online: boolean }[];
    expect(devices.find((d) => d.id === 'disp-1')?.online).toBe(true);
    expect(devices.find((d) => d.id === 'disp-2')?.online).toBe(false);
    const list = (await a.call('GET', '/api/v1', { token: t })).body.actions as { name: string }[];
    expect(list.map((x) => x.name).sort()).toEqual(ACTIONS.map((x) => x.name).sort());
  });

  it('device presence is an event in the log, forwarded like the rest, with why a device went away', async () => {
    const online = events().find((e) => e.type === 'device.online' && e.device === 'disp-1');
    expect(online).toMatchObject({ kind: 'dispenser', model: 'test', fw: '0.0.1', source: 'hub' });
    const kp8 = await connectDevice(hub.mqttPort, 'kp-8', secrets['kp-8']!);
    await vi.waitFor(() => expect(events().some((e) => e.type === 'device.online' && e.device === 'kp-8')).toBe(true), { timeout: 10_000 });
    // Gone without a goodbye: the broker sees the socket close.
    kp8.client.stream.destroy();
    await vi.waitFor(() => expect(events().find((e) => e.type === 'device.offline' && e.device === 'kp-8')).toMatchObject({ kind: 'keypad', why: expect.any(String) }), { timeout: 10_000 });
    await vi.waitFor(() => expect(rx.events.filter((e) => String(e.type).startsWith('device.') && e.device === 'kp-8').map((e) => e.type)).toEqual(['device.online', 'device.offline']), { timeout: 10_000 });
    await kp8.close();
  });

  it('the local socket serves the same table to the technician, recorded as cli:<login>', async () => {
    const sock = join(dataDir, 'qhub.sock');
    const st = await viaSocket(sock, { id: 1, action: 'status' });
    expect(st).toMatchObject({ id: 1, ok: true, result: { seq: seq() } });
    const r = await viaSocket(sock, { id: 2, action: 'windows.next', input: { window: 5 }, as: 'tech' });
    expect(r).toMatchObject({ id: 2, ok: true, result: { ticket: { service: 'treasury', status: 'called' } } });
    expect(events().at(-1)).toMatchObject({ type: 'ticket.called', window: 5, source: 'cli:tech' });
    const bad = await viaSocket(sock, { id: 3, action: 'windows.next', input: { window: 'x' } });
    expect(bad).toMatchObject({ id: 3, ok: false, status: 400, error: 'bad_input' });
    const garbage = await viaSocket(sock, { id: 4, action: 'nope' });
    expect(garbage).toMatchObject({ ok: false, error: 'unknown_action' });
  });
});

describe('assign: a window takes another service at run time', () => {
  it('window 2 calls treasury from its keypad after a supervisor assigns it, its screen counts treasury, and a restart keeps it', async () => {
    const { dir, config } = testCenter(async () => undefined);
    const boss = { name: 'boss', role: 'supervisor', password: await hashPassword(PW.boss) };
    const { writeFileSync, readFileSync } = await import('node:fs');
    const { parseDocument } = await import('yaml');
    const doc = parseDocument(readFileSync(config, 'utf8'));
    doc.setIn(['hub', 'users'], doc.createNode([boss]));
    writeFileSync(config, doc.toString());
    const dataDir = join(dir, 'data');
    let hub = await startHub(config, dataDir);
    try {
      let a = api(hub.httpPort);
      let token = (await a.login('boss', PW.boss)).body.token as string;
      const disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
      await disp.request('press', { service: 'intake' }, 'ticket');
      const b1 = await disp.request('press', { service: 'treasury' }, 'ticket');
      expect((b1.body.ticket as { t: string }).t).toBe('B001');
      const r = await a.call('POST', '/api/v1/windows.assign', { token, body: { window: 2, services: ['treasury', 'intake'] } });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.window).toMatchObject({ number: 2, services: ['treasury', 'intake'] });
      const kp2 = await connectDevice(hub.mqttPort, 'kp-2', secrets['kp-2']!);
      // Its screen counts both services it now calls: one intake and one treasury ticket.
      await kp2.waitFor('screen', (b) => b.waiting === 2, 5000);
      const s = await kp2.request('cmd', { cmd: 'next' }, 'screen');
      expect(s.body).toMatchObject({ t: 'B001', service: 'treasury' });
      // A new treasury ticket changes window 2's count (its keypad is now shown treasury's queue).
      const since = kp2.mark();
      await disp.request('press', { service: 'treasury' }, 'ticket');
      await kp2.waitFor('screen', (b) => b.waiting === 2 && b.t === 'B001', 5000, since);
      await kp2.close();
      await disp.close();
      expect(await hub.stop()).toBe(0);

      hub = await startHub(config, dataDir);
      a = api(hub.httpPort);
      token = (await a.login('boss', PW.boss)).body.token as string;
      const w2 = await a.call('GET', '/api/v1/window?window=2', { token });
      expect(w2.body).toMatchObject({ services: ['treasury', 'intake'], waiting: 2 });
      const kp2b = await connectDevice(hub.mqttPort, 'kp-2', secrets['kp-2']!);
      await kp2b.request('cmd', { cmd: 'done' }, 'screen');
      const again = await kp2b.request('cmd', { cmd: 'next' }, 'screen');
      expect(again.body).toMatchObject({ t: 'B002', service: 'treasury' });
      await kp2b.close();
    } finally {
      await hub.stop();
    }
  });
});
