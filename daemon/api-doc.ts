/**
 * docs/API.md, made from the command table: for every action its method and
 * path, the roles allowed, its input as JSON Schema (from the zod schema),
 * and a request and answer captured from a real hub (the example center, a
 * fixed clock, devices absent). `npm run docs:api` writes it; a test fails
 * when the file and the table disagree.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { EXAMPLE_CONFIG, loadCenter } from '../config/load.js';
import { ROLE_SUMMARY } from '../contract/roles.js';
import { createHub } from './hub.js';
import { ACTIONS, type Action } from './api/actions.js';
import { hashPassword } from './api/auth.js';

/** How the data directory is written in the doc (the generator's is a temporary one). */
const DATA = '/var/lib/qhub';

/** The order actions are shown and captured in: a morning at the example center. */
const SCRIPT: { action: string; as: string; input?: Record<string, unknown> }[] = [
  { action: 'tickets.issue', as: 'reception', input: { service: 'intake' } },
  { action: 'tickets.issue', as: 'reception', input: { service: 'intake' } },
  { action: 'tickets.issue', as: 'reception', input: { service: 'intake' } },
  { action: 'tickets.issue', as: 'reception', input: { service: 'treasury' } },
  { action: 'windows.open', as: 'clerk', input: { window: 2 } },
  { action: 'windows.next', as: 'clerk', input: { window: 2, id: 'w2-0001' } },
  { action: 'windows.recall', as: 'clerk', input: { window: 2 } },
  { action: 'windows.start', as: 'clerk', input: { window: 2 } },
  { action: 'windows.park', as: 'clerk', input: { window: 2 } },
  { action: 'windows.resume', as: 'clerk', input: { window: 2, ticket: 'A001' } },
  { action: 'windows.transfer', as: 'clerk', input: { window: 2, service: 'treasury' } },
  { action: 'windows.call', as: 'clerk', input: { window: 2, ticket: 'A003' } },
  { action: 'windows.noShow', as: 'clerk', input: { window: 2 } },
  { action: 'tickets.return', as: 'clerk', input: { ticket: 'A003' } },
  { action: 'windows.next', as: 'clerk', input: { window: 2 } },
  { action: 'windows.done', as: 'clerk', input: { window: 2 } },
  { action: 'windows.pause', as: 'clerk', input: { window: 2, reason: 'prayer' } },
  { action: 'windows.close', as: 'clerk', input: { window: 2 } },
  { action: 'windows.assign', as: 'supervisor', input: { window: 2, services: ['treasury', 'intake'] } },
  { action: 'windows.callInquiry', as: 'supervisor', input: { window: 7, inquiry: '2026-7781' } },
  { action: 'tickets.cancel', as: 'supervisor', input: { ticket: 'A002', reason: 'left the center' } },
  { action: 'tickets.reprint', as: 'reception', input: { ticket: 'B001' } },
  { action: 'tickets.issue', as: 'reception', input: { service: 'intake' } },
  { action: 'backend.attach', as: 'backend', input: { id: 'att-77', ticket: 'A004', requestId: 'REQ-2026-77' } },
  { action: 'backend.feesSet', as: 'backend', input: { id: 'fees-77', requestId: 'REQ-2026-77' } },
  { action: 'backend.ready', as: 'backend', input: { id: 'ready-12', inquiry: '2026-88412', requestId: 'REQ-2026-12' } },
  { action: 'backend.cancel', as: 'backend', input: { id: 'cancel-3', ticket: 'A004', reason: 'duplicate request' } },
  { action: 'hub.reload', as: 'supervisor' },
  { action: 'alerts', as: 'viewer' },
  { action: 'hub.selftest', as: 'supervisor' },
  { action: 'status', as: 'viewer' },
  { action: 'windows', as: 'viewer' },
  { action: 'window', as: 'viewer', input: { window: 2 } },
  { action: 'queues', as: 'viewer' },
  { action: 'ticket', as: 'viewer', input: { ticket: 'A001' } },
  { action: 'devices', as: 'viewer' },
  { action: 'today', as: 'viewer' },
  { action: 'report', as: 'supervisor', input: { day: '2026-11-24', format: 'csv', lang: 'en' } },
  // The technician's actions come through the local socket (qhub backup).
  { action: 'hub.backup', as: 'socket', input: { out: `${DATA}/backups/before-upgrade.db` } },
];

/** One request on the hub's local socket, as `qhub` sends it. */
function askSocket(path: string, action: string, input: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${JSON.stringify({ id: 1, action, input, as: 'tech' })}\n`));
    s.on('data', (d: string) => {
      buf += d;
      if (!buf.includes('\n')) return;
      s.end();
      resolve(JSON.parse(buf.slice(0, buf.indexOf('\n'))) as Record<string, unknown>);
    });
    s.on('error', reject);
  });
}

const T0 = Date.parse('2026-11-24T08:05:00+02:00');

const fence = (lang: string, text: string) => `\`\`\`${lang}\n${text}\n\`\`\``;

/** Long lists are cut in the doc (the devices of the example center, say). */
function trim(v: unknown): unknown {
  if (Array.isArray(v)) return v.length > 3 ? [...v.slice(0, 3).map(trim), `… ${v.length - 3} more`] : v.map(trim);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, trim(x)]));
  return v;
}

export async function renderApiDoc(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'qhub-apidoc-'));
  try {
    const doc = parseDocument(readFileSync(EXAMPLE_CONFIG, 'utf8'));
    doc.setIn(['hub', 'mqtt'], doc.createNode({ host: '127.0.0.1', port: 0 }));
    doc.setIn(['hub', 'http'], doc.createNode({ host: '127.0.0.1', port: 0 }));
    const people = { supervisor: 'supervisor', clerk: 'clerk', reception: 'reception', viewer: 'viewer' } as const;
    doc.setIn(
      ['hub', 'users'],
      doc.createNode([
        { name: 'mona', role: 'supervisor', password: await hashPassword('doc-password') },
        { name: 'karim', role: 'clerk', windows: [2], password: await hashPassword('doc-password') },
        { name: 'salma', role: 'reception', password: await hashPassword('doc-password') },
        { name: 'omar', role: 'viewer', password: await hashPassword('doc-password') },
      ]),
    );
    const file = join(dir, 'center.yaml');
    doc.set('forward', doc.createNode({ inbound: { token: 'doc-backend-token' } }));
    // The alerts' 5 s timer runs on real time while this clock jumps a minute a step: a queue alert would appear or not with the machine's speed.
    doc.set('alerts', doc.createNode({ longestWait: false }));
    writeFileSync(file, doc.toString());
    writeFileSync(join(dir, 'center.example.secrets.yaml'), readFileSync(EXAMPLE_CONFIG.replace(/\.yaml$/, '.secrets.yaml')));
    const center = loadCenter(file, { QHUB_SUPERVISOR_SECRET: 'doc-secret-1234' });
    let now = T0;
    const hub = createHub({
      center,
      dataDir: join(dir, 'data'),
      log: pino({ level: 'silent' }),
      version: 'doc',
      clock: () => now,
      reload: () => hub.applyConfig(loadCenter(file, { QHUB_SUPERVISOR_SECRET: 'doc-secret-1234' })),
    });
    await hub.start();
    const base = `http://127.0.0.1:${hub.http.port}`;
    const tokens: Record<string, string> = {};
    const names = { supervisor: 'mona', clerk: 'karim', reception: 'salma', viewer: 'omar' };
    for (const [role, name] of Object.entries(names)) {
      const r = await fetch(`${base}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password: 'doc-password', bearer: true }) });
      tokens[role] = ((await r.json()) as { token: string }).token;
    }
    const captured = new Map<string, Captured>();
    try {
      for (const step of SCRIPT) {
        now += 60_000;
        const a = ACTIONS.find((x) => x.name === step.action)!;
        const input = step.input ?? {};
        if (step.as === 'socket') {
          const real = JSON.parse(JSON.stringify(input).split(DATA).join(join(dir, 'data'))) as unknown;
          const r = await askSocket(join(dir, 'data', 'qhub.sock'), a.name, real);
          // The temporary directory and the time taken differ from run to run.
          const answer = JSON.parse(JSON.stringify(r).split(join(dir, 'data')).join(DATA)) as Record<string, unknown>;
          if (answer.result && typeof answer.result === 'object') (answer.result as Record<string, unknown>).ms = 14;
          captured.set(a.name, { as: 'the technician (qhub backup, over the local socket)', request: `{"id": 1, "action": "${a.name}", "input": ${JSON.stringify(input)}, "as": "tech"}`, status: answer.ok ? 200 : Number(answer.status), answer, socket: true });
          continue;
        }
        const qs = new URLSearchParams(Object.entries(input).map(([k, v]): [string, string] => [k, String(v)])).toString();
        // The backend's actions come through its own door: POST /api/v1/commands with its token and {"cmd", ...}.
        const backend = step.as === 'backend';
        const path = backend ? '/api/v1/commands' : `/api/v1/${a.name}${a.kind === 'read' && qs ? `?${qs}` : ''}`;
        const body = backend ? { cmd: a.name.slice('backend.'.length), ...input } : input;
        const r = await fetch(base + path, {
          method: a.kind === 'read' ? 'GET' : 'POST',
          headers: { authorization: `Bearer ${backend ? 'doc-backend-token' : tokens[step.as]}`, 'content-type': 'application/json' },
          ...(a.kind === 'write' ? { body: JSON.stringify(body) } : {}),
        });
        // A report comes as the file it is (CSV, HTML); every other answer is JSON.
        const text = await r.text();
        const answer: unknown = (r.headers.get('content-type') ?? '').startsWith('application/json') ? JSON.parse(text) : text;
        if (!captured.has(a.name))
          captured.set(a.name, {
            as: backend ? 'the backend (forward.inbound.token)' : `${names[step.as as keyof typeof names]} (${people[step.as as keyof typeof people]})`,
            request: a.kind === 'read' ? `GET ${path}` : `POST ${path}\n${JSON.stringify(body)}`,
            status: r.status,
            answer,
          });
      }
    } finally {
      await hub.stop();
    }
    return render(captured);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The first lines of a long text answer (a report). */
function cut(text: string): string {
  const lines = text.trimEnd().split('\n');
  return lines.length > 12 ? [...lines.slice(0, 12), `… ${lines.length - 12} more lines`].join('\n') : lines.join('\n');
}

function schemaOf(a: Action): string {
  const s = z.toJSONSchema(a.input, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete s.$schema;
  return JSON.stringify(s, null, 2);
}

interface Captured {
  as: string;
  request: string;
  status: number;
  answer: unknown;
  socket?: boolean;
}

function render(captured: Map<string, Captured>): string {
  const out: string[] = [];
  out.push(`# The hub's API (generated)

This file is made from the command table (\`daemon/api/actions.ts\`) by
\`npm run docs:api\`; a test fails when the two disagree. Every request and
answer below was captured from a real hub running the example center, with
its clock set to 2026-11-24 08:05 Cairo time and no device connected.

## How to reach it

- **HTTP** on the hub's HTTP port (\`hub.http.port\`, 8080 by default): reads are
  \`GET /api/v1/<action>?<input>\`, writes are \`POST /api/v1/<action>\` with the
  input as one JSON object. \`GET /api/v1\` lists the actions.
- **Log in** with \`POST /api/v1/login {"name", "password"}\`. A browser gets an
  HttpOnly, SameSite=Strict session cookie and a \`csrf\` token: every write made
  with the cookie must send it back in the \`X-CSRF-Token\` header. A program asks
  for a bearer token instead: \`{"name", "password", "bearer": true}\` answers
  \`{"token"}\`, sent as \`Authorization: Bearer <token>\`. \`GET /api/v1/me\` says
  who is logged in (and gives the CSRF token again); \`POST /api/v1/logout\` ends
  the session. Sessions end after 12 hours unused, and at a restart.
- **Live feed for pages**: \`GET /api/v1/events\` (any logged-in person) is a
  Server-Sent Events stream: \`changed\` \`{"what": ["queues", "windows", ...]}\`
  (at most one per 300 ms; \`devices\`, \`alerts\`, \`people\` too) after which a page
  reads what it shows again, \`alerts\` with the open alerts (first on every
  connection, then on every change), and \`ping\` every 15 s. It ends with the session.
- Logins are throttled (HTTP 429 with \`Retry-After\`): per address a burst of 10
  then one a second; per user and address a burst of 5 then one every 5 seconds;
  and per user, over every address the person has not logged in from in the last
  30 days, a shared burst of 5 then one every 5 seconds. So someone guessing a
  password from another PC (or many) is held to 12 guesses a minute, while the
  person still logs in from the desk they used before; from a new address they
  wait with the guesser. The known addresses are kept in memory (a restart
  forgets them). Device ids and secrets never log in.
- **The local socket** (\`<data dir>/qhub.sock\`, or \`hub.socket\`; mode 0660: root
  and the service's group) serves the same actions to the technician's command
  line, one JSON object a line: \`{"id": 1, "action": "windows.next", "input":
  {"window": 3}, "as": "<login>"}\` → \`{"id": 1, "ok": true, "result": {...}}\`.
- **The backend's commands** (\`backend.attach\`, \`feesSet\`, \`ready\`, \`cancel\`) are actions of
  the same table, reached through the backend's own door: \`POST /api/v1/commands\`
  with \`Authorization: Bearer <forward.inbound.token>\` and \`{"cmd": "attach", "id": ...}\`
  (or the upstream broker's commands topic); answers and codes are in \`docs/EVENTS.md\`.
- Every write is recorded in the event log and forwarded to the backend with
  the person as \`source\` (\`cli:<login>\` from the socket). A write may carry an
  \`id\`: the same id again returns the first answer (\`"duplicate": true\`) and
  changes nothing.
- Refusals: \`{"error": "<code>", "message": "<what to do>"}\` with 400 (bad input,
  bad JSON), 401 (not logged in), 403 (role, window, or CSRF), 404 (unknown
  window, ticket, service, device or action), 409 (the state does not allow it:
  \`window_busy\`, \`window_idle\`, \`wrong_state\`, \`offline\`...), 413 (a body
  over 64 KiB), 422 (\`invalid_command\`, \`no_priority\`), 429 (logins), 503
  (\`storage_failed\`: nothing was changed).

## Roles

| role | may |
|---|---|
${Object.entries(ROLE_SUMMARY)
  .map(([r, s]) => `| ${r} | ${s} |`)
  .join('\n')}

People are added with \`qhub user add NAME --role ROLE [--windows 2,3]\`, which
writes a scrypt hash of the password into \`hub.users\` of the config.

## Actions

| action | method | roles | what it does |
|---|---|---|---|
${ACTIONS.map((a) => `| [\`${a.name}\`](#${a.name.replace(/\./g, '').toLowerCase()}) | ${a.kind === 'read' ? 'GET' : 'POST'} | ${a.roles.join(', ')} | ${a.summary} |`).join('\n')}
`);
  for (const a of ACTIONS) {
    const c = captured.get(a.name);
    out.push(`### ${a.name}

${a.summary}. ${a.kind === 'read' ? 'GET' : 'POST'} \`/api/v1/${a.name}\`; roles: ${a.roles.join(', ')}${a.window ? ' (a clerk: only the windows the clerk is bound to)' : ''}.

Input:

${fence('json', schemaOf(a))}
${
  c
    ? `
As ${c.as}:

${fence(c.socket ? 'json' : 'http', c.request)}

Answer (HTTP ${c.status}):

${typeof c.answer === 'string' ? fence('text', cut(c.answer)) : fence('json', JSON.stringify(trim(c.answer), null, 2))}
`
    : ''
}`);
  }
  return `${out.join('\n').trimEnd()}\n`;
}
