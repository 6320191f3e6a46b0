/**
 * systemd's notification protocol from the real daemon: the test binds a
 * unix datagram socket, passes it as NOTIFY_SOCKET (as systemd does), and
 * reads READY, STATUS, WATCHDOG and STOPPING; a loop blocked on purpose
 * stops the watchdog pings. SIGHUP does not end the daemon.
 */
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHub, testCenter, type RunningHub } from './helpers/hub.js';

interface Dgram {
  bind(path: string): void;
  on(ev: 'message', cb: (buf: Buffer) => void): void;
  close(): void;
}
const { createSocket } = createRequire(import.meta.url)('unix-dgram') as { createSocket(t: 'unix_dgram'): Dgram };

/** A NOTIFY_SOCKET the test owns: every datagram, with the time it came. */
function notifySocket() {
  const path = join(mkdtempSync(join(tmpdir(), 'qhub-notify-')), 'notify');
  const got: { text: string; at: number }[] = [];
  const waiters = new Set<() => void>();
  const sock = createSocket('unix_dgram');
  sock.on('message', (b) => {
    got.push({ text: b.toString(), at: performance.now() });
    for (const w of waiters) w();
  });
  sock.bind(path);
  const waitFor = (pred: (t: string) => boolean, since = 0, timeoutMs = 20_000) =>
    new Promise<{ text: string; at: number; index: number }>((resolve, reject) => {
      const check = () => {
        const i = got.findIndex((m, j) => j >= since && pred(m.text));
        if (i < 0) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve({ ...got[i]!, index: i });
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no datagram matching within ${timeoutMs} ms; got ${JSON.stringify(got.map((m) => m.text).slice(-10))}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return { path, got, waitFor, close: () => sock.close() };
}

function waitLog(hub: RunningHub, pred: (l: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<{ line: Record<string, unknown>; at: number }> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      const line = hub.logs.find(pred);
      if (line) {
        clearInterval(t);
        resolve({ line, at: performance.now() });
      } else if (Date.now() - start > timeoutMs) {
        clearInterval(t);
        reject(new Error(`no such log line within ${timeoutMs} ms; last: ${hub.logs.slice(-5).map((l) => l.msg).join(' | ')}`));
      }
    }, 10);
  });
}

describe('systemd notify (Type=notify) from the real daemon', () => {
  let hub: RunningHub | undefined;
  let sock: ReturnType<typeof notifySocket> | undefined;
  afterEach(async () => {
    if (hub && hub.proc.exitCode === null) await hub.stop();
    sock?.close();
    hub = sock = undefined;
  });

  it('READY with a status line once listening, WATCHDOG pings at half WATCHDOG_USEC, STOPPING on SIGTERM', async () => {
    sock = notifySocket();
    const { dir, config } = testCenter();
    hub = await startHub(config, join(dir, 'data'), { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '400000' });
    const ready = await sock.waitFor((t) => t.startsWith('READY=1'));
    // READY comes after the broker and HTTP listen: the 'qhub ready' line is already out.
    expect(hub.logs.some((l) => l.msg === 'qhub ready')).toBe(true);
    expect(ready.text).toMatch(/^READY=1\nSTATUS=(ok|degraded): 0 of \d+ devices online, 0 waiting$/);
    // Several pings, about 200 ms apart (half of 400 ms).
    let from = ready.index + 1;
    const pings: number[] = [];
    while (pings.length < 5) {
      const p = await sock.waitFor((t) => t === 'WATCHDOG=1', from);
      pings.push(p.at);
      from = p.index + 1;
    }
    const gaps = pings.slice(1).map((t, i) => t - pings[i]!);
    expect(Math.min(...gaps)).toBeGreaterThan(100);
    expect(hub.logs.find((l) => l.msg === 'systemd watchdog: pinging')).toMatchObject({ everyMs: 200 });

    const before = sock.got.length;
    expect(await hub.stop()).toBe(0);
    const stop = await sock.waitFor((t) => t.startsWith('STOPPING=1'), before);
    // No ping after STOPPING.
    expect(sock.got.slice(stop.index + 1).filter((m) => m.text === 'WATCHDOG=1')).toEqual([]);
  });

  it('a blocked event loop stops the watchdog pings, which come back when it turns again', async () => {
    sock = notifySocket();
    const { dir, config } = testCenter();
    hub = await startHub(config, join(dir, 'data'), {
      NOTIFY_SOCKET: sock.path,
      WATCHDOG_USEC: '400000',
      QHUB_TEST_BLOCK_LOOP_ON: 'SIGUSR2',
      QHUB_TEST_BLOCK_LOOP_MS: '2500',
    });
    const ready = await sock.waitFor((t) => t.startsWith('READY=1'));
    const p1 = await sock.waitFor((t) => t === 'WATCHDOG=1', ready.index + 1);
    hub.proc.kill('SIGUSR2');
    const blocked = await waitLog(hub, (l) => l.msg === 'test: blocking the event loop');
    // The last ping before the loop stopped and the first one after it.
    const last = [...sock.got.entries()].filter(([i, m]) => i >= p1.index && m.text === 'WATCHDOG=1' && m.at <= blocked.at).at(-1)!;
    const next = await sock.waitFor((t) => t === 'WATCHDOG=1', last[0] + 1, 30_000);
    // 2.5 s with no ping: longer than a 400 ms WatchdogSec, so systemd would have killed and restarted the hub.
    expect(next.at - last[1].at).toBeGreaterThan(2000);
    // And the daemon is alive and pinging again.
    await sock.waitFor((t) => t === 'WATCHDOG=1', next.index + 1);
  });

  it('without NOTIFY_SOCKET nothing is sent or loaded; an abstract NOTIFY_SOCKET is named as unreachable and the hub runs on', async () => {
    const { dir, config } = testCenter();
    hub = await startHub(config, join(dir, 'data'), { NOTIFY_SOCKET: '' });
    expect(hub.logs.filter((l) => l.mod === 'systemd')).toEqual([]);
    expect(await hub.stop()).toBe(0);

    hub = await startHub(config, join(dir, 'data'), { NOTIFY_SOCKET: '@qhub-test-abstract' });
    const err = hub.logs.find((l) => l.mod === 'systemd');
    expect(err?.msg).toMatch(/abstract socket.*no READY, STATUS or WATCHDOG/);
    expect(await hub.stop()).toBe(0);
  });

  it('SIGHUP does not end the daemon: it re-reads the config (nothing changed) and keeps serving', async () => {
    const { dir, config } = testCenter();
    hub = await startHub(config, join(dir, 'data'));
    hub.proc.kill('SIGHUP');
    await waitLog(hub, (l) => l.msg === 'reloading the config' && l.why === 'SIGHUP');
    await waitLog(hub, (l) => l.msg === 'config reloaded: nothing changed');
    const res = await fetch(`http://127.0.0.1:${hub.httpPort}/health`);
    expect(res.status).toBe(200);
    expect(hub.proc.exitCode).toBeNull();
    expect(await hub.stop()).toBe(0);
  });

  it('a reload says RELOADING=1 with MONOTONIC_USEC (CLOCK_MONOTONIC) and READY=1 when it is over; a refused reload too', async () => {
    sock = notifySocket();
    const { dir, config } = testCenter();
    hub = await startHub(config, join(dir, 'data'), { NOTIFY_SOCKET: sock.path });
    const ready = await sock.waitFor((t) => t.startsWith('READY=1'));
    // Our own CLOCK_MONOTONIC reading, in µs, around the reload (process.hrtime is CLOCK_MONOTONIC on Linux; systemd compares them).
    const t0 = process.hrtime.bigint() / 1000n;
    hub.proc.kill('SIGHUP');
    const rel = await sock.waitFor((t) => t.startsWith('RELOADING=1'), ready.index + 1);
    const t1 = process.hrtime.bigint() / 1000n;
    const usec = BigInt(/^MONOTONIC_USEC=(\d+)$/m.exec(rel.text)![1]!);
    expect(usec >= t0 && usec <= t1, `MONOTONIC_USEC ${usec} between ${t0} and ${t1}`).toBe(true);
    const again = await sock.waitFor((t) => t.startsWith('READY=1'), rel.index + 1);
    expect(again.text).toMatch(/^READY=1\nSTATUS=/);
    await waitLog(hub, (l) => l.msg === 'config reloaded: nothing changed');
    // A broken file: refused, and systemd still hears READY=1 (the old config runs).
    writeFileSync(config, `${readFileSync(config, 'utf8')}\nnot: [valid\n`);
    hub.proc.kill('SIGHUP');
    const rel2 = await sock.waitFor((t) => t.startsWith('RELOADING=1'), again.index + 1);
    await sock.waitFor((t) => t.startsWith('READY=1'), rel2.index + 1);
    await waitLog(hub, (l) => typeof l.msg === 'string' && l.msg.startsWith('reload refused'));
    expect(await hub.stop()).toBe(0);
  });
});
