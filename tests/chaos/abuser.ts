/**
 * One abuser of the hub, in its own process, for the abuse scenarios. It
 * runs for its seconds, stops by itself and prints one JSON line of what it
 * did. argv[2]: {"mode", "port", "seconds", "secrets", ...mode options}.
 *
 * Device door (port = MQTT): garbage, oversize, unauth, flood, reconnect, subflood.
 * HTTP (port = HTTP): http-garbage, http-huge, http-login, http-conns, http-slow.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { connect as tcp, type Socket } from 'node:net';
import mqtt from 'mqtt';

interface Args {
  mode: string;
  port: number;
  seconds: number;
  secrets: Record<string, string>;
  /** flood: messages a second to aim at. */
  rate?: number;
  /** http-login: the user attacked. */
  user?: string;
  /** http-conns / http-slow: connections held open. */
  conns?: number;
}

const a = JSON.parse(process.argv[2]!) as Args;
/** Set when the abuse begins: a busy machine can take seconds to start node, which must not eat the abuse's time. */
let end = Infinity;
const more = () => Date.now() < end;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const c: Record<string, number> = {};
const count = (k: string, n = 1) => (c[k] = (c[k] ?? 0) + n);

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function openTcp(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcp(a.port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Writes `bytes` (or streams `size` bytes after a header) and waits for the hub to close, at most `waitMs`. */
async function throwAt(s: Socket, head: Buffer, size: number, waitMs: number): Promise<{ sent: number; closed: boolean }> {
  let closed = false;
  s.on('error', () => undefined);
  const gone = new Promise<void>((r) => s.once('close', () => ((closed = true), r())));
  s.write(head);
  let sent = head.length;
  const chunk = Buffer.alloc(Math.min(64 * 1024, Math.max(1, size)), 0x5a);
  while (sent < size + head.length && !closed && more()) {
    const ok = s.write(chunk);
    sent += chunk.length;
    if (!ok) await Promise.race([new Promise((r) => s.once('drain', r)), gone, sleep(2000)]);
  }
  await Promise.race([gone, sleep(waitMs)]);
  s.destroy();
  return { sent, closed };
}

const device = (id: string, extra: Partial<mqtt.IClientOptions> = {}) =>
  mqtt.connectAsync({ host: '127.0.0.1', port: a.port, clientId: id, username: id, password: a.secrets[id], protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...extra });

/** Runs `n` copies of `f` until the time is up. */
async function parallel(n: number, f: () => Promise<void>): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (more()) {
        try {
          await f();
        } catch {
          count('errors');
        }
      }
    }),
  );
}

const modes: Record<string, () => Promise<void>> = {
  /** Random bytes as a first packet, and garbage after a valid login (on the logged-in device's socket). */
  async garbage() {
    await parallel(4, async () => {
      const s = await openTcp();
      const r = await throwAt(s, randomBytes(16 + Math.floor(Math.random() * 4000)), 0, 1000);
      count('preLoginConns');
      if (r.closed) count('closedByHub');
    });
  },
  async 'garbage-after-login'() {
    await parallel(2, async () => {
      const d = await device('kp-6');
      count('logins');
      // A binary payload on its own request topic: a bad request, answered and dropped.
      d.publish('qhub/dev/kp-6/cmd', randomBytes(200), { qos: 0 });
      d.publish('qhub/dev/kp-6/cmd', Buffer.from('{"v":1,"id":"x","cmd":'), { qos: 0 });
      count('badPayloads', 2);
      // Then bytes that are no MQTT at all, on the same socket.
      const r = await throwAt(d.stream as Socket, Buffer.concat([Buffer.from([0xf0, 0x05]), randomBytes(600)]), 0, 1500);
      count('garbageAfterLogin');
      if (r.closed) count('closedByHub');
      d.end(true);
      await sleep(1100); // the login rate of one device: 1 a second after 5
    });
  },
  /** 50 MB announced before CONNECT and after login, and payloads just over the limit. */
  async oversize() {
    const before = parallel(2, async () => {
      const s = await openTcp();
      const r = await throwAt(s, Buffer.from([0x10, ...varint(50 * 2 ** 20)]), 50 * 2 ** 20, 3000);
      count('hugeConnect');
      count('hugeConnectBytes', r.sent);
      if (r.closed) count('closedByHub');
    });
    const after = parallel(1, async () => {
      const d = await device('kp-7');
      count('logins');
      // Just over hub.mqtt.maxPayloadBytes (8192): read whole, refused by the ACL step.
      for (let i = 0; i < 30; i++) d.publish('qhub/dev/kp-7/cmd', Buffer.alloc(8500, 0x41), { qos: 0 });
      count('overLimitPayloads', 30);
      const r = await throwAt(d.stream as Socket, Buffer.from([0x30, ...varint(50 * 2 ** 20)]), 50 * 2 ** 20, 3000);
      count('hugePublish');
      if (r.closed) count('closedByHub');
      d.end(true);
      await sleep(1100);
    });
    await Promise.all([before, after]);
  },
  /** Logins that must fail: wrong secret, unknown id, id and user that differ. */
  async unauth() {
    let i = 0;
    await parallel(8, async () => {
      const k = i++ % 3;
      const opts = k === 0 ? { clientId: 'kp-8', username: 'kp-8', password: 'wrong-secret' } : k === 1 ? { clientId: `ghost-${i}`, username: `ghost-${i}`, password: 'x' } : { clientId: 'kp-8', username: 'kp-9', password: a.secrets['kp-9'] };
      try {
        const cl = await mqtt.connectAsync({ host: '127.0.0.1', port: a.port, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
        count('accepted');
        cl.end(true);
      } catch {
        count('refused');
      }
    });
  },
  /** A logged-in dispenser pressing at `rate` messages a second (QoS 0), for a stuck button or a hostile firmware. */
  async flood() {
    const rate = a.rate ?? 10_000;
    const d = await device('disp-2', { reconnectPeriod: 300 });
    let sent = 0;
    const t0 = Date.now();
    // The whole time slice at the rate, counted from the login (a slow start must not shorten it).
    while (Date.now() - t0 < a.seconds * 1000) {
      const due = Math.floor(((Date.now() - t0) / 1000) * rate);
      const backlog = (d.stream as { writableLength?: number }).writableLength ?? 0;
      if (d.connected && backlog < 256 * 1024) while (sent < due) d.publish('qhub/dev/disp-2/press', `{"v":1,"id":"f${sent++}","service":"complaints"}`, { qos: 0 });
      else if (sent < due) count('heldBackByTcp', due - sent), (sent = due);
      await sleep(5);
    }
    count('sent', sent);
    count('seconds', (Date.now() - t0) / 1000);
    d.end(true);
  },
  /** One keypad logging in and out as fast as it can. */
  async reconnect() {
    await parallel(2, async () => {
      try {
        const d = await device('kp-5');
        count('logins');
        d.publish('qhub/dev/kp-5/cmd', '{"v":1,"cmd":"screen"}', { qos: 0 });
        await d.endAsync(true);
      } catch {
        count('refused');
        await sleep(20);
      }
    });
  },
  /** Forbidden and allowed SUBSCRIBEs, thousands of them. */
  async subflood() {
    const d = await device('kp-4');
    let n = 0;
    while (more()) {
      const batch = Array.from({ length: 200 }, (_, i) => ((n + i) % 3 === 0 ? 'qhub/dev/kp-4/screen' : `qhub/dev/kp-${1 + ((n + i) % 9)}/#`));
      n += batch.length;
      await Promise.allSettled(batch.map((t) => d.subscribeAsync(t, { qos: 1 })));
      count('subscribes', batch.length);
      if (n >= 10_000) break;
    }
    d.end(true);
  },

  // ------------------------------------------------------------ HTTP

  /** Bytes that are no HTTP, and requests whose bodies are garbage. */
  async 'http-garbage'() {
    const raw = parallel(2, async () => {
      const s = await openTcp();
      const r = await throwAt(s, randomBytes(64 + Math.floor(Math.random() * 2000)), 0, 1000);
      count('rawConns');
      if (r.closed) count('closedByHub');
    });
    const bodies = parallel(3, async () => {
      const k = Math.floor(Math.random() * 4);
      const path = ['/api/v1/login', '/api/v1/windows.next', '/api/v1/tickets.issue', '/health'][k]!;
      const body = k === 3 ? undefined : Math.random() < 0.5 ? randomBytes(300) : '{"name":' + '['.repeat(500);
      const r = await fetch(`http://127.0.0.1:${a.port}${path}`, { signal: AbortSignal.timeout(5000), method: k === 3 ? 'GET' : 'POST', headers: { 'content-type': Math.random() < 0.5 ? 'application/json' : 'application/x-garbage' }, body }).catch(() => undefined);
      await r?.arrayBuffer().catch(() => undefined);
      count(`status${r?.status ?? 'Err'}`);
    });
    await Promise.all([raw, bodies]);
  },
  /** Bodies of 20 MB: announced (Content-Length) and chunked without a length. */
  async 'http-huge'() {
    await parallel(3, async () => {
      const chunked = Math.random() < 0.5;
      const size = 20 * 2 ** 20;
      const status = await new Promise<string>((resolve) => {
        const req = request({ host: '127.0.0.1', port: a.port, method: 'POST', path: '/api/v1/login', headers: { 'content-type': 'application/json', ...(chunked ? {} : { 'content-length': String(size) }) } }, (res) => {
          res.resume();
          res.on('end', () => resolve(String(res.statusCode)));
          res.on('error', () => resolve('Err'));
        });
        req.on('error', () => resolve('Reset'));
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        const pump = () => {
          while (sent < size && more() && !req.destroyed) {
            sent += chunk.length;
            count('bytes', chunk.length);
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
        setTimeout(() => (req.destroy(), resolve('Timeout')), 10_000).unref();
      });
      count(`${chunked ? 'chunked' : 'sized'}${status}`);
    });
  },
  /** Wrong passwords for one user, as fast as the hub answers. */
  async 'http-login'() {
    await parallel(4, async () => {
      const r = await fetch(`http://127.0.0.1:${a.port}/api/v1/login`, { signal: AbortSignal.timeout(5000), method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: a.user, password: `guess-${Math.random()}` }) }).catch(() => undefined);
      await r?.arrayBuffer().catch(() => undefined);
      count(`status${r?.status ?? 'Err'}`);
    });
  },
  /** Many connections held open doing nothing. */
  async 'http-conns'() {
    const socks: Socket[] = [];
    for (let i = 0; i < (a.conns ?? 500) && more(); i++) {
      try {
        const s = await openTcp();
        s.on('error', () => undefined);
        socks.push(s);
        count('opened');
      } catch {
        count('refused');
      }
    }
    while (more()) await sleep(100);
    count('stillOpen', socks.filter((s) => !s.destroyed && s.readyState === 'open').length);
    for (const s of socks) s.destroy();
  },
  /** Slow clients: headers one byte at a time, a body one byte a second. */
  async 'http-slow'() {
    const socks: Socket[] = [];
    const n = a.conns ?? 200;
    for (let i = 0; i < n && more(); i++) {
      try {
        const s = await openTcp();
        s.on('error', () => undefined);
        s.on('close', () => count('closedByHub'));
        socks.push(s);
      } catch {
        count('refused');
      }
    }
    const text = (i: number) => (i % 2 ? 'POST /api/v1/login HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":"boss","password":"' : 'GET /health HTTP/1.1\r\nHost: hub\r\nX-Slow: ');
    let step = 0;
    while (more()) {
      for (const [i, s] of socks.entries()) if (!s.destroyed) s.write(text(i)[Math.min(step, text(i).length - 1)] ?? 'a');
      count('bytes', socks.length);
      step++;
      await sleep(500);
    }
    count('slowConns', socks.length);
    count('stillOpen', socks.filter((s) => !s.destroyed).length);
    for (const s of socks) s.destroy();
  },
};

const f = modes[a.mode];
if (!f) {
  console.error(`unknown mode ${a.mode}`);
  process.exit(2);
}
const report = (late: boolean) => {
  process.stdout.write(`${JSON.stringify({ mode: a.mode, ...(late ? { cutOff: true } : {}), ...Object.fromEntries(Object.entries(c).map(([k, v]) => [k, Math.round(v * 100) / 100])) })}\n`);
  process.exit(0);
};
// Whatever hangs (a request the hub never answers), the abuser reports and ends 5 s after its time.
setTimeout(() => report(true), a.seconds * 1000 + 5000).unref();
// How long the process took to get here (a busy machine starts node slowly).
count('startS', performance.now() / 1000);
end = Date.now() + a.seconds * 1000;
await f();
report(false);
