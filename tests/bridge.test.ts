/**
 * The MQTT bridge against a real upstream broker: Debian's `mosquitto`,
 * started by the test (as a governorate's central broker would run). The hub
 * is the real daemon (child process). Events arrive in order through an
 * upstream restart, commands come back over the bridge, and when the hub is
 * killed its will marks the center offline upstream.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectDevice, exampleSecrets, startHub, testCenter } from './helpers/hub.js';

const MOSQUITTO = '/usr/sbin/mosquitto';
const secrets = exampleSecrets();

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function startMosquitto(dir: string, port: number): Promise<ChildProcess> {
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const p = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  // Ready when it accepts a client.
  await vi.waitFor(
    async () => {
      if (p.exitCode !== null) throw new Error(`mosquitto exited: ${err}`);
      const c = await mqtt.connectAsync({ host: '127.0.0.1', port, reconnectPeriod: 0, connectTimeout: 500 });
      await c.endAsync();
    },
    { timeout: 5000, interval: 100 },
  );
  return p;
}

const stopProc = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null ? r() : (p.once('exit', () => r()), p.kill('SIGTERM'))));

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  cleanup = [];
});

describe('MQTT bridge to an upstream broker (mosquitto)', () => {
  it('events in order through an upstream restart, commands back over it, and the hub’s will when it is killed', async () => {
    expect(existsSync(MOSQUITTO), `${MOSQUITTO} is missing: apt-get install mosquitto`).toBe(true);
    const port = await freePort();
    const { dir, config } = testCenter((doc) => doc.set('forward', doc.createNode({ mqtt: { url: `mqtt://127.0.0.1:${port}`, batch: 10 } })));
    let upstream = await startMosquitto(dir, port);
    cleanup.push(() => stopProc(upstream));

    // The central side: a consumer of every center's events.
    const prefix = 'qhub/centers/mansoura-tc';
    const events: { key: string; seq: number }[] = [];
    const statuses: { state: string; retain: boolean }[] = [];
    const replies: Record<string, unknown>[] = [];
    const consumer = mqtt.connect({ host: '127.0.0.1', port, clientId: 'central', clean: false, reconnectPeriod: 200 });
    cleanup.push(() => consumer.endAsync(true));
    consumer.on('message', (topic, payload, packet) => {
      if (topic === `${prefix}/commands`) return; // its own commands, echoed by the subscription
      const body = JSON.parse(payload.toString()) as Record<string, unknown>;
      if (topic === `${prefix}/events`) events.push(body as { key: string; seq: number });
      else if (topic === `${prefix}/status`) statuses.push({ state: String(body.state), retain: packet.retain });
      else if (topic === `${prefix}/replies`) replies.push(body);
    });
    await new Promise((r) => consumer.once('connect', r));
    await consumer.subscribeAsync(`${prefix}/#`, { qos: 1 });

    let hub = await startHub(config, join(dir, 'data'));
    cleanup.push(() => hub.stop());
    await vi.waitFor(() => expect(statuses.at(-1)?.state).toBe('online'), { timeout: 5000 });
    const disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
    for (let i = 0; i < 15; i++) await disp.request('press', { service: 'intake' }, 'ticket');

    // The central broker restarts; the center keeps working meanwhile.
    await stopProc(upstream);
    for (let i = 0; i < 15; i++) await disp.request('press', { service: 'treasury' }, 'ticket');
    // Listening before the broker is back: the consumer may reconnect before startMosquitto's own probe does.
    const reconnected = new Promise((r) => consumer.once('connect', r));
    upstream = await startMosquitto(dir, port);
    await reconnected;
    await consumer.subscribeAsync(`${prefix}/#`, { qos: 1 });
    const health = async () => (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as { seq: number; bridge: { connected: boolean; backlog: number } };
    await vi.waitFor(async () => expect((await health()).bridge).toMatchObject({ connected: true, backlog: 0 }), { timeout: 15_000, interval: 200 });
    const last = (await health()).seq;
    await vi.waitFor(() => expect(events.at(-1)?.seq).toBe(last), { timeout: 5000 });
    const seen = new Set<string>();
    const unique = events.filter((e) => !seen.has(e.key) && seen.add(e.key)).map((e) => e.seq);
    expect(unique).toEqual(Array.from({ length: last }, (_, i) => i + 1));

    // A backend command over the bridge, answered on the replies topic.
    consumer.publish(`${prefix}/commands`, JSON.stringify({ id: 'ready-1', cmd: 'ready', inquiry: '2026-777' }), { qos: 1 });
    await vi.waitFor(() => expect(replies.find((r) => r.re === 'ready-1')).toMatchObject({ ok: true, status: 200, ticket: { t: '2026-777', service: 'delivery' } }), { timeout: 5000 });
    consumer.publish(`${prefix}/commands`, '{"id":"bad-1","cmd":', { qos: 1 });
    // Not JSON, but its id can be read: the reply carries it, so the backend can match it.
    await vi.waitFor(() => expect(replies.find((r) => r.re === 'bad-1')).toMatchObject({ error: 'bad_json', status: 400 }), { timeout: 5000 });
    // Nothing readable: a reply without `re`.
    consumer.publish(`${prefix}/commands`, 'ready 2026-1', { qos: 1 });
    await vi.waitFor(() => expect(replies.filter((r) => r.error === 'bad_json')).toHaveLength(2), { timeout: 5000 });
    expect(replies.filter((r) => r.error === 'bad_json')[1]).not.toHaveProperty('re');
    // Well formed, meaningless here (an inquiry number equal to a ticket in use): 422 invalid_command.
    consumer.publish(`${prefix}/commands`, JSON.stringify({ id: 'inv-1', cmd: 'ready', inquiry: 'A001' }), { qos: 1 });
    await vi.waitFor(() => expect(replies.find((r) => r.re === 'inv-1')).toMatchObject({ error: 'invalid_command', status: 422 }), { timeout: 5000 });

    // A power cut at the center: the upstream shows it offline (the hub's will).
    await disp.close();
    await hub.kill();
    await vi.waitFor(() => expect(statuses.at(-1)?.state).toBe('offline'), { timeout: 60_000, interval: 200 });
    const late = await mqtt.connectAsync({ host: '127.0.0.1', port, clientId: 'late-reader' });
    const retained = await new Promise<Record<string, unknown>>((resolve) => {
      late.on('message', (_t, p) => resolve(JSON.parse(p.toString()) as Record<string, unknown>));
      void late.subscribeAsync(`${prefix}/status`, { qos: 1 });
    });
    expect(retained).toMatchObject({ state: 'offline', center: 'mansoura-tc' });
    await late.endAsync();
    hub = await startHub(config, join(dir, 'data'));
    await vi.waitFor(() => expect(statuses.at(-1)?.state).toBe('online'), { timeout: 10_000 });
  }, 120_000);
});
