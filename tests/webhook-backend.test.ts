/**
 * The webhook as a backend author meets it, with docs/EVENTS.md's own
 * verification function (run as it stands in the doc): a missing, short,
 * repeated or tampered header gives false, never an exception; retries are
 * signed again with a fresh timestamp; a hub whose clock is an hour off the
 * backend's holds its events (and says so in /health) until the clocks
 * agree; and after an outage the backlog arrives within seconds of the
 * backend's return, not after the retry backoff.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadCenter } from '../config/load.js';
import { createHub, type Hub } from '../daemon/hub.js';
import { sign } from '../daemon/forwarder/webhook.js';
import { startHub, testCenter } from './helpers/hub.js';
import { captureLog } from './helpers/logs.js';

type Verify = (secret: string, headers: Record<string, unknown>, rawBody: string | Buffer, nowSeconds?: number) => boolean;

/** The block under `<!-- verify-snippet` in docs/EVENTS.md, run as a receiver that copied it would run it. */
function docSnippet(): { code: string; verify: Verify } {
  const doc = readFileSync(new URL('../docs/EVENTS.md', import.meta.url), 'utf8');
  const at = doc.indexOf('<!-- verify-snippet');
  expect(at, 'docs/EVENTS.md has the verify-snippet marker').toBeGreaterThan(0);
  const start = doc.indexOf('```js\n', at) + '```js\n'.length;
  const end = doc.indexOf('```', start);
  const code = doc
    .slice(start, end)
    .split('\n')
    .map((l) => l.replace(/^ {2}/, ''))
    .join('\n');
  const verify = new Function('require', `${code}\nreturn verifyQhub;`)(createRequire(import.meta.url)) as Verify;
  return { code, verify };
}

const SECRET = 'webhook-secret-for-tests';
const { verify } = docSnippet();

describe("docs/EVENTS.md's verification function", () => {
  const body = JSON.stringify({ hub: 'mansoura-tc', events: [{ key: 'mansoura-tc:1', seq: 1 }] });
  const now = Math.floor(Date.now() / 1000);
  const ts = String(now);
  const good = { 'x-qhub-timestamp': ts, 'x-qhub-signature': sign(SECRET, ts, body) };

  it('accepts a batch signed by the hub (body as string or Buffer)', () => {
    expect(verify(SECRET, good, body)).toBe(true);
    expect(verify(SECRET, good, Buffer.from(body))).toBe(true);
  });

  const bad: [string, IncomingHttpHeaders | Record<string, unknown>, string?][] = [
    ['no signature header', { 'x-qhub-timestamp': ts }],
    ['no timestamp header', { 'x-qhub-signature': good['x-qhub-signature'] }],
    ['no headers at all', {}],
    ['an empty signature', { ...good, 'x-qhub-signature': '' }],
    ['a short signature', { ...good, 'x-qhub-signature': 'sha256=ab' }],
    ['a signature one character longer', { ...good, 'x-qhub-signature': `${good['x-qhub-signature']}0` }],
    ['a tampered signature (same length)', { ...good, 'x-qhub-signature': good['x-qhub-signature'].replace(/.$/, (c) => (c === '0' ? '1' : '0')) }],
    ['a signature with multi-byte characters of the same length', { ...good, 'x-qhub-signature': `sha256=${'é'.repeat(64)}` }],
    ['the header twice (an array)', { ...good, 'x-qhub-signature': [good['x-qhub-signature'], good['x-qhub-signature']] }],
    ['a tampered body', good, body.replace('"seq":1', '"seq":2')],
    ['a timestamp that is not a number', { ...good, 'x-qhub-timestamp': 'soon' }],
    ['a stale timestamp (301 s old), correctly signed', { 'x-qhub-timestamp': String(now - 301), 'x-qhub-signature': sign(SECRET, String(now - 301), body) }],
    ['a timestamp from the future (301 s ahead), correctly signed', { 'x-qhub-timestamp': String(now + 301), 'x-qhub-signature': sign(SECRET, String(now + 301), body) }],
  ];
  for (const [what, headers, b] of bad)
    it(`returns false, without throwing, for ${what}`, () => {
      // Judged at the same second the timestamps were made from: a second that ticks over between
      // collecting the tests and running this one would turn "301 s ahead" into 300 (found by a CI run).
      expect(() => verify(SECRET, headers, b ?? body, now)).not.toThrow();
      expect(verify(SECRET, headers, b ?? body, now)).toBe(false);
    });

  it('allows 300 s either way', () => {
    for (const d of [-300, 300]) expect(verify(SECRET, { 'x-qhub-timestamp': String(now + d), 'x-qhub-signature': sign(SECRET, String(now + d), body) }, body, now)).toBe(true);
  });
});

/** A receiver written from docs/EVENTS.md: the doc's check, 401 for anything it refuses, its own clock `offsetS` away from true time. */
class Receiver {
  server!: Server;
  port = 0;
  offsetS = 0;
  down = false;
  posts: { at: number; ts: number; ok: boolean; status: number }[] = [];
  heads: number[] = [];
  seqs: number[] = [];
  /** Answer these POSTs (counted from 1) with 500, as a failing backend would. */
  failFirst = 0;

  async listen(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      res.setHeader('date', new Date(Date.now() + this.offsetS * 1000).toUTCString());
      if (req.method === 'HEAD') {
        this.heads.push(Date.now());
        return void res.writeHead(405).end();
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const ok = verify(SECRET, req.headers, raw, Date.now() / 1000 + this.offsetS);
        const n = this.posts.length + 1;
        const status = !ok ? 401 : n <= this.failFirst ? 500 : 200;
        this.posts.push({ at: Date.now(), ts: Number(req.headers['x-qhub-timestamp']), ok, status });
        if (status === 200) this.seqs.push(...(JSON.parse(raw.toString('utf8')) as { events: { seq: number }[] }).events.map((e) => e.seq));
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => this.server.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((r) => {
      this.server.closeAllConnections();
      this.server.close(() => r());
    });
  }

  unique(): number[] {
    return [...new Set(this.seqs)].sort((a, b) => a - b);
  }
}

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  cleanup = [];
});

async function hubFor(receiver: Receiver, webhook: Record<string, unknown> = {}): Promise<{ hub: Hub; lines: Record<string, unknown>[] }> {
  const { dir, config } = testCenter((doc) => doc.set('forward', doc.createNode({ webhook: { url: `http://127.0.0.1:${receiver.port}/qhub/events`, secret: SECRET, ...webhook } })));
  const log = captureLog('info');
  const hub = createHub({ center: loadCenter(config, {}), dataDir: join(dir, 'data'), log: log.log, version: 'test' });
  await hub.start();
  cleanup.push(() => hub.stop());
  return { hub, lines: log.lines };
}

type Health = { status: string; seq: number; forward: { backlog: number; clockSkewS?: number; heldForClock?: boolean }; modules: { name: string; detail: { failures: number } }[] };
const health = async (hub: Hub) => (await (await fetch(`http://127.0.0.1:${hub.http.port}/health`)).json()) as Health;
const issue = (hub: Hub, id: string) => hub.ctx.core.submit({ type: 'issue', service: 'intake', source: 'disp-1', id });

describe('the webhook against a receiver written from docs/EVENTS.md', () => {
  it('retries are signed again: each attempt carries the time it was sent', async () => {
    const r = new Receiver();
    r.failFirst = 3;
    await r.listen();
    cleanup.push(() => r.close());
    const { hub } = await hubFor(r, { lingerMs: 20, maxBackoffMs: 3000 });
    await issue(hub, 'p1');
    await vi.waitFor(() => expect(r.unique()).toEqual([1, 2]), { timeout: 20_000, interval: 50 });
    expect(r.posts.map((p) => p.status)).toEqual([500, 500, 500, 200]);
    // Each signature checked against the receiver's clock when it came, and each timestamp is that moment's.
    for (const p of r.posts) {
      expect(p.ok).toBe(true);
      expect(Math.abs(p.at / 1000 - p.ts)).toBeLessThanOrEqual(1.5);
    }
    expect(r.posts.at(-1)!.ts).toBeGreaterThan(r.posts[0]!.ts); // retries came seconds later, with later timestamps
  });

  it('a hub whose clock is an hour ahead of the backend holds its events, says so in /health, and sends them once the clocks agree', async () => {
    const r = new Receiver();
    r.offsetS = -3600; // the backend's clock (and so its Date header) an hour behind the hub's
    await r.listen();
    cleanup.push(() => r.close());
    const { hub, lines } = await hubFor(r, { lingerMs: 20, maxBackoffMs: 500 });
    for (let i = 0; i < 5; i++) await issue(hub, `c${i}`);
    // The first batch is refused (stale for the receiver); from its answer's Date the hub knows, and holds.
    await vi.waitFor(async () => expect((await health(hub)).forward).toMatchObject({ heldForClock: true }), { timeout: 10_000, interval: 50 });
    const h = await health(hub);
    expect(h.status).toBe('degraded');
    expect(Math.abs(h.forward.clockSkewS! - 3600)).toBeLessThanOrEqual(2);
    expect(h.forward.backlog).toBe(h.seq);
    const warn = lines.find((l) => typeof l.msg === 'string' && l.msg.includes('s ahead of the backend'));
    expect(warn?.msg).toMatch(/^the hub's clock is 360[0-2] s ahead of the backend's \(its HTTP Date\): forwarding held until the clock is right/);
    // While held: no more signed batches, only the HEAD that asks the backend's time again (every maxBackoffMs here).
    const posts = r.posts.length;
    const heads = r.heads.length;
    await vi.waitFor(() => expect(r.heads.length).toBeGreaterThanOrEqual(heads + 3), { timeout: 10_000, interval: 50 });
    expect(r.posts.length).toBe(posts);
    expect(r.posts.every((p) => p.status === 401)).toBe(true);

    // The clocks agree again: forwarding resumes by itself, every event arrives, signed and fresh.
    r.offsetS = 0;
    await vi.waitFor(() => expect(r.unique()).toEqual(Array.from({ length: hub.ctx.core.store.lastSeq }, (_, i) => i + 1)), { timeout: 10_000, interval: 50 });
    const after = await health(hub);
    expect(after.forward.heldForClock).toBeUndefined();
    expect(Math.abs(after.forward.clockSkewS!)).toBeLessThanOrEqual(1);
    expect(after.status).toBe('ok');
    expect(lines.some((l) => l.msg === "the hub's clock agrees with the backend's again: forwarding resumed")).toBe(true);
  });

  it('after an outage (default backoff settings) the backlog arrives within seconds of the backend coming back', async () => {
    const r = new Receiver();
    await r.listen();
    const port = r.port;
    cleanup.push(() => r.close());
    const { hub } = await hubFor(r); // defaults: lingerMs 200, timeoutMs 10 s, maxBackoffMs 60 s
    await issue(hub, 'o0');
    await vi.waitFor(() => expect(r.unique()).toEqual([1, 2]), { timeout: 10_000, interval: 50 });
    await r.close();
    await issue(hub, 'o1');
    // Down long enough for the backoff to grow: the fifth failure waits 8–16 s before its retry.
    const failures = async () => (await health(hub)).modules.find((m) => m.name === 'forwarder')!.detail.failures;
    await vi.waitFor(async () => expect(await failures()).toBeGreaterThanOrEqual(5), { timeout: 60_000, interval: 100 });
    const failed = await failures();
    const back = Date.now();
    await r.listen(port);
    await vi.waitFor(() => expect(r.unique().at(-1)).toBe(hub.ctx.core.store.lastSeq), { timeout: 20_000, interval: 20 });
    const firstBatchS = (r.posts.find((p) => p.at >= back)!.at - back) / 1000;
    console.log(`first batch ${firstBatchS.toFixed(2)} s after the backend came back (after ${failed} failed attempts)`);
    expect(firstBatchS).toBeLessThan(5);
    expect(r.heads.length).toBeGreaterThanOrEqual(1);
  }, 90_000);

  it('a hub booted an hour fast (daemon under libfaketime) holds, then forwards within seconds of its clock being set', async () => {
    const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
    expect(existsSync(FAKETIME), `${FAKETIME} is missing: apt-get install faketime`).toBe(true);
    const r = new Receiver();
    await r.listen();
    cleanup.push(() => r.close());
    // The numbering restarts half a day from now, so the hour's step does not cross it.
    const rollover = `${String((new Date().getUTCHours() + 2 + 12) % 24).padStart(2, '0')}:00`;
    const { dir, config } = testCenter((doc) => {
      doc.setIn(['center', 'day', 'rollover'], rollover);
      doc.set('forward', doc.createNode({ webhook: { url: `http://127.0.0.1:${r.port}/qhub/events`, secret: SECRET, lingerMs: 20 } }));
    });
    const clockFile = join(dir, 'faketime');
    writeFileSync(clockFile, '+1h');
    const hub = await startHub(config, join(dir, 'data'), { LD_PRELOAD: FAKETIME, FAKETIME_TIMESTAMP_FILE: clockFile, FAKETIME_NO_CACHE: '1', DONT_FAKE_MONOTONIC: '1' });
    cleanup.push(() => hub.stop());
    const h = async () => (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as Health;
    await vi.waitFor(async () => expect((await h()).forward).toMatchObject({ heldForClock: true }), { timeout: 15_000, interval: 100 });
    expect(Math.abs((await h()).forward.clockSkewS! - 3600)).toBeLessThanOrEqual(2);
    expect(r.posts.every((p) => p.status === 401)).toBe(true); // the receiver refused the stale first batch
    expect(hub.logs.some((l) => typeof l.msg === 'string' && /^the hub's clock is 3\d{3} s ahead of the backend's/.test(l.msg))).toBe(true);
    // NTP sets the clock.
    const set = Date.now();
    writeFileSync(clockFile, '+0');
    await vi.waitFor(() => expect(r.posts.some((p) => p.status === 200)).toBe(true), { timeout: 15_000, interval: 20 });
    await vi.waitFor(async () => expect((await h()).forward).toMatchObject({ backlog: 0 }), { timeout: 15_000, interval: 50 });
    const resumedS = (r.posts.find((p) => p.status === 200)!.at - set) / 1000;
    console.log(`clock set: first accepted batch ${resumedS.toFixed(2)} s later`);
    expect(resumedS).toBeLessThan(3);
    const after = await h();
    expect(after.forward.heldForClock).toBeUndefined();
    expect(r.unique()).toEqual(Array.from({ length: after.seq }, (_, i) => i + 1));
  }, 60_000);
});
