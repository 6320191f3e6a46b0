/**
 * docs/SCALING.md's backend consumer recipe, against Debian's mosquitto with
 * persistence (as SCALING.md configures it), restarted while the hub is
 * forwarding: two consumers written as the recipe says (fixed client id,
 * clean session off, QoS 1, a plain per-center subscription made again on
 * every connect, events kept by `key`) each end with every event, none lost.
 * And the catch-up for a gap (a broker that crashed before saving): the
 * `resend` command over the bridge publishes a center's events again from a
 * given `seq`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectDevice, exampleSecrets, startHub, testCenter } from './helpers/hub.js';

const MOSQUITTO = '/usr/sbin/mosquitto';
const secrets = exampleSecrets();
const validate = new Ajv2020({ allErrors: true }).compile(JSON.parse(readFileSync(new URL('../docs/events.schema.json', import.meta.url), 'utf8')) as object);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Mosquitto with persistence in `dir/mosquitto/`, as SCALING.md sets it up (without TLS here). */
async function startMosquitto(dir: string, port: number): Promise<ChildProcess> {
  const store = join(dir, 'mosquitto');
  mkdirSync(store, { recursive: true });
  // Started as root, mosquitto drops to its own user: its persistence folder must be that user's (SCALING.md says so too).
  if (process.getuid?.() === 0) {
    const user = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('mosquitto:'))?.split(':');
    if (user) chownSync(store, Number(user[2]), Number(user[3]));
    chmodSync(dir, 0o711); // a mkdtemp folder is 0700: let it reach its folder inside
  }
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location ${store}/\nmax_queued_messages 1000000\n`);
  const p = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await vi.waitFor(
    async () => {
      if (p.exitCode !== null) throw new Error(`mosquitto exited: ${err}`);
      const c = await mqtt.connectAsync({ host: '127.0.0.1', port, reconnectPeriod: 0, connectTimeout: 500 });
      await c.endAsync();
    },
    { timeout: 10_000, interval: 100 },
  );
  return p;
}

const stopProc = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null ? r() : (p.once('exit', () => r()), p.kill('SIGTERM'))));

/** A consumer as docs/SCALING.md's recipe writes it. */
function recipeConsumer(port: number, clientId: string, topics: string[], reconnectPeriod: number): { client: MqttClient; byKey: Map<string, { key: string; seq: number }>; connects: number; sessionPresent: boolean[] } {
  const byKey = new Map<string, { key: string; seq: number }>();
  const me = { client: undefined as unknown as MqttClient, byKey, connects: 0, sessionPresent: [] as boolean[] };
  const client = mqtt.connect({ host: '127.0.0.1', port, clientId, clean: false, reconnectPeriod, protocolVersion: 4 });
  client.on('connect', (ack) => {
    me.connects++;
    me.sessionPresent.push(ack.sessionPresent);
    // Every connect, session present or not: a broker can come back with the session but without its subscriptions.
    client.subscribe(topics, { qos: 1 });
  });
  client.on('message', (topic, payload) => {
    if (!topic.endsWith('/events')) return;
    const e = JSON.parse(payload.toString()) as { key: string; seq: number };
    if (!byKey.has(e.key)) byKey.set(e.key, e); // the database's unique key: a repeat is dropped
  });
  me.client = client;
  return me;
}

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  cleanup = [];
});

describe("SCALING.md's consumer recipe against a mosquitto restart", () => {
  it('two consumers each get every event while the broker restarts during forwarding: 0 lost; resend fills a gap', async () => {
    const port = await freePort();
    const { dir, config } = testCenter((doc) => doc.set('forward', doc.createNode({ mqtt: { url: `mqtt://127.0.0.1:${port}`, batch: 20 } })));
    let broker = await startMosquitto(dir, port);
    cleanup.push(() => stopProc(broker));
    const prefix = 'qhub/centers/mansoura-tc';
    // One consumer is back within half a second, the other only after 4 s, when the hub (back after 1–2 s) has long
    // published again: what it missed must have waited in its session on the broker.
    const consumers = [recipeConsumer(port, 'backend-1', ['qhub/centers/+/events'], 500), recipeConsumer(port, 'backend-2', ['qhub/centers/+/events'], 4000)];
    for (const c of consumers) cleanup.push(() => c.client.endAsync(true));
    await vi.waitFor(() => expect(consumers.every((c) => c.connects === 1)).toBe(true), { timeout: 10_000 });

    const hub = await startHub(config, join(dir, 'data'));
    cleanup.push(() => hub.stop());
    const disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
    cleanup.push(() => disp.close());
    // The center keeps issuing tickets throughout.
    let pressing = true;
    let pressed = 0;
    const presser = (async () => {
      while (pressing) {
        const r = await disp.request('press', { service: pressed % 2 ? 'intake' : 'treasury' }, 'ticket', 10_000);
        expect(r.leaf).toBe('ticket');
        pressed++;
        await new Promise((res) => setTimeout(res, 70)); // under the dispenser's 20 messages a second
      }
    })();
    await vi.waitFor(() => expect(Math.min(...consumers.map((c) => c.byKey.size))).toBeGreaterThanOrEqual(40), { timeout: 20_000 });
    // The broker restarts in the middle of it (SIGTERM: it saves its sessions, as a service restart does).
    await stopProc(broker);
    await vi.waitFor(() => expect(pressed).toBeGreaterThanOrEqual(80), { timeout: 20_000 }); // events pile up at the hub meanwhile
    broker = await startMosquitto(dir, port);
    await vi.waitFor(() => expect(pressed).toBeGreaterThanOrEqual(160), { timeout: 30_000 });
    pressing = false;
    await presser;

    const health = async () => (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as { seq: number; bridge: { connected: boolean; backlog: number } };
    await vi.waitFor(async () => expect((await health()).bridge).toMatchObject({ connected: true, backlog: 0 }), { timeout: 30_000, interval: 200 });
    const last = (await health()).seq;
    const all = Array.from({ length: last }, (_, i) => i + 1);
    const seqs = (c: (typeof consumers)[number]) => [...c.byKey.values()].map((e) => e.seq).sort((a, b) => a - b);
    for (const c of consumers) await vi.waitFor(() => expect(seqs(c)).toEqual(all), { timeout: 20_000, interval: 100 });
    // Both came back with their session present (and subscribed again anyway).
    for (const c of consumers) expect(c.sessionPresent.slice(1)).toContain(true);
    for (const c of consumers) for (const e of c.byKey.values()) expect(validate(e), JSON.stringify(e)).toBe(true);

    // Catch-up for a gap: a consumer asks the hub to publish again from a seq; repeats are dropped by key.
    const gapFrom = Math.max(1, last - 30);
    const lost = consumers[0]!;
    for (const s of all.filter((s) => s >= gapFrom)) lost.byKey.delete(`mansoura-tc:${s}`);
    const replies: Record<string, unknown>[] = [];
    lost.client.on('message', (topic, payload) => topic === `${prefix}/replies` && replies.push(JSON.parse(payload.toString()) as Record<string, unknown>));
    await lost.client.subscribeAsync(`${prefix}/replies`, { qos: 1 });
    lost.client.publish(`${prefix}/commands`, JSON.stringify({ id: 'resend-1', cmd: 'resend', fromSeq: gapFrom }), { qos: 1 });
    await vi.waitFor(() => expect(replies.find((r) => r.re === 'resend-1')).toMatchObject({ ok: true, status: 200, fromSeq: gapFrom, lastSeq: last }), { timeout: 10_000 });
    await vi.waitFor(() => expect(seqs(lost)).toEqual(all), { timeout: 20_000, interval: 100 });
    lost.client.publish(`${prefix}/commands`, JSON.stringify({ id: 'resend-2', cmd: 'resend', fromSeq: 0 }), { qos: 1 });
    await vi.waitFor(() => expect(replies.find((r) => r.re === 'resend-2')).toMatchObject({ status: 400, error: 'bad_payload' }), { timeout: 10_000 });
    console.log(`consumer recipe: ${last} events, broker restarted mid-run; each consumer holds ${consumers.map((c) => c.byKey.size).join(' and ')} unique keys`);
  }, 180_000);
});
