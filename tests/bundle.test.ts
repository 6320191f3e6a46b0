/**
 * The daemon as systemd starts it: the bundle `npm run build` makes
 * (daemon/bundle.mjs → dist/bundle/qhub.js), with the node flags of
 * systemd/qhub.service's ExecStart= line. The other tests run tsc's
 * dist/daemon/; this one checks that what bundling changes (one file and
 * lazy chunks instead of modules, packages left in node_modules, paths found
 * from import.meta.url) still gives a working hub: the config check of
 * ExecStartPre, READY=1 on systemd's notify socket (unix-dgram, native),
 * a ticket over MQTT (better-sqlite3, Aedes), the web pages (dist/web found
 * from the bundle), /metrics (prom-client, a lazy chunk) and MQTT over
 * WebSocket (ws, a lazy chunk).
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAEMON_NODE_FLAGS, DAEMON_SCRIPT } from './bench/flags.js';
import { connectDevice, exampleSecrets, startHub, testCenter, type RunningHub } from './helpers/hub.js';

const ROOT = new URL('../', import.meta.url).pathname;
const BUNDLE = join(ROOT, DAEMON_SCRIPT);
const secrets = exampleSecrets();

interface Dgram {
  bind(path: string): void;
  on(ev: 'message', cb: (buf: Buffer) => void): void;
  close(): void;
}
const { createSocket } = createRequire(import.meta.url)('unix-dgram') as { createSocket(t: 'unix_dgram'): Dgram };

describe('the bundled daemon (dist/bundle/qhub.js, as systemd/qhub.service starts it)', () => {
  let hub: RunningHub;
  const notified: string[] = [];
  let sock: Dgram;

  beforeAll(async () => {
    expect(DAEMON_SCRIPT).toBe('dist/bundle/qhub.js');
    const { dir, config } = testCenter();
    const notify = join(mkdtempSync(join(tmpdir(), 'qhub-notify-')), 'notify');
    sock = createSocket('unix_dgram');
    sock.on('message', (b) => notified.push(b.toString()));
    sock.bind(notify);
    hub = await startHub(config, join(dir, 'data'), { NOTIFY_SOCKET: notify }, { script: BUNDLE, nodeFlags: DAEMON_NODE_FLAGS });
  }, 60_000);

  afterAll(async () => {
    expect(await hub?.stop()).toBe(0);
    sock?.close();
  });

  it('checks a config as ExecStartPre does, saying what tsc\'s build says', () => {
    const check = (script: string, file: string) => {
      const r = spawnSync(process.execPath, [script, 'check-config', file], { encoding: 'utf8', env: { ...process.env, QHUB_SUPERVISOR_SECRET: '' } });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const ok = check(BUNDLE, join(ROOT, 'config/center.example.yaml'));
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/center\.example\.yaml: OK — /);
    expect(ok).toEqual(check(join(ROOT, 'dist/daemon/cli.js'), join(ROOT, 'config/center.example.yaml')));
    const { config } = testCenter((doc) => doc.setIn(['services', 0, 'prefix'], 7));
    const bad = check(BUNDLE, config);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/center\.yaml:\d+: services\[0\]\.prefix: /);
    expect(bad).toEqual(check(join(ROOT, 'dist/daemon/cli.js'), config));
  });

  it('tells systemd it is ready and issues a ticket over MQTT', async () => {
    await expect.poll(() => notified.some((t) => t.split('\n').includes('READY=1')), { timeout: 10_000 }).toBe(true);
    const disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
    try {
      const t = await disp.request('press', { service: 'intake' }, 'ticket');
      expect((t.body.ticket as { t: string }).t).toBe('A001');
    } finally {
      await disp.close();
    }
  });

  it('serves the web pages, /metrics and MQTT over WebSocket', async () => {
    const page = await fetch(`http://127.0.0.1:${hub.httpPort}/login`);
    expect(page.status).toBe(200);
    const script = /\/static\/login\.[A-Z0-9]+\.js/.exec(await page.text())?.[0];
    expect(script).toBeDefined();
    expect((await fetch(`http://127.0.0.1:${hub.httpPort}${script}`)).status).toBe(200);
    const metrics = await fetch(`http://127.0.0.1:${hub.httpPort}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^process_resident_memory_bytes \d+/m);
    const ws = await mqtt.connectAsync(`ws://127.0.0.1:${hub.httpPort}/mqtt`, { clientId: 'board-2', username: 'board-2', password: secrets['board-2']!, protocolVersion: 4, reconnectPeriod: 0 });
    try {
      const got = new Promise<Record<string, unknown>>((resolve) => ws.once('message', (_t, p) => resolve(JSON.parse(p.toString()) as Record<string, unknown>)));
      await ws.subscribeAsync('qhub/dev/board-2/display', { qos: 1 });
      expect(await got).toHaveProperty('v', 1);
    } finally {
      await ws.endAsync();
    }
  });
});
