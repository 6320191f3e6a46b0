/**
 * The running hub, end to end: the compiled daemon as a child process, its
 * embedded broker on an ephemeral port, devices as real mqtt.js clients.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLI, connackCode, connectDevice, exampleDevices, exampleSecrets, startHub, testCenter, type RunningHub, type TestDevice } from './helpers/hub.js';

const secrets = exampleSecrets();
const FLOODER = new URL('../dist/tests/helpers/flooder.js', import.meta.url).pathname;

describe('running hub: citizen flow and device protocol', () => {
  let hub: RunningHub;
  const devs: Record<string, TestDevice> = {};
  const dev = async (id: string) => (devs[id] ??= await connectDevice(hub.mqttPort, id, secrets[id]!));

  beforeAll(async () => {
    const { dir, config } = testCenter();
    hub = await startHub(config, join(dir, 'data'));
  });
  afterAll(async () => {
    await Promise.all(Object.values(devs).map((d) => d.close()));
    expect(await hub.stop()).toBe(0);
  });

  it('ticket → intake call → transfer to treasury → treasury call → done, shown on boards and announced', async () => {
    const disp = await dev('disp-1');
    const kp1 = await dev('kp-1');
    const kp5 = await dev('kp-5');
    const board = await dev('board-1');
    const wd1 = await dev('wd-1');
    const speaker = await dev('speaker-1');

    const t = await disp.request('press', { service: 'intake' }, 'ticket');
    expect(t.leaf).toBe('ticket');
    const ticket = t.body.ticket as Record<string, unknown>;
    expect(ticket.t).toBe('A001');
    expect((ticket.name as { ar: string }).ar).toBe('تقديم الطلبات');
    expect(ticket.ahead).toBe(0);
    expect(typeof ticket.waitMin).toBe('number');
    expect(ticket.time).toMatch(/^\d\d:\d\d$/);

    const s1 = await kp1.request('cmd', { cmd: 'next' }, 'screen');
    expect(s1.body).toMatchObject({ w: 1, t: 'A001', status: 'called', service: 'intake', state: 'open' });
    await board.waitFor('display', (b) => (b.rows as { t: string; w: number }[]).some((r) => r.t === 'A001' && r.w === 1) && (b.flash as { t: string })?.t === 'A001');
    await wd1.waitFor('display', (b) => b.t === 'A001' && b.state === 'called');
    const ann = await speaker.waitFor('announce', (b) => b.t === 'A001');
    expect(ann).toMatchObject({ w: 1, recall: false });
    // The words of the call, as they are spoken (docs/VOICE.md), and the clips that say them.
    expect((ann.text as { ar: string }).ar).toBe('المواطن رقم إيه واحد يرجى التوجه إلى الشباك رقم واحد');
    expect((ann.text as { en: string }).en).toBe('number A one please go to window one');
    expect((ann.clips as { id: string }[]).map((c) => c.id)).toEqual(['chime', 'citizen.number', 'letter.A', '1', 'go.to.window', '1', 'number', 'letter.A', '1', 'go.to.window', '1']);

    const s2 = await kp1.request('cmd', { cmd: 'transfer', service: 'treasury' }, 'screen');
    expect(s2.body).toMatchObject({ t: null, state: 'open' });

    const s3 = await kp5.request('cmd', { cmd: 'next' }, 'screen');
    expect(s3.body).toMatchObject({ w: 5, t: 'A001', service: 'treasury' });
    await board.waitFor('display', (b) => (b.flash as { t: string; w: number })?.w === 5);
    const s4 = await kp5.request('cmd', { cmd: 'done' }, 'screen');
    expect(s4.body).toMatchObject({ t: null, served: 1 });
  });

  it('inquiry → delivery: a delivery window calls an inquiry number, and a ticket transferred to delivery', async () => {
    const disp = await dev('disp-1');
    const kp9 = await dev('kp-9');
    const kp7 = await dev('kp-7');
    const board = await dev('board-2');

    const t = await disp.request('press', { button: 4 }, 'ticket'); // button 4 = inquiry
    expect((t.body.ticket as { t: string }).t).toBe('D001');
    expect((await kp9.request('cmd', { cmd: 'next' }, 'screen')).body).toMatchObject({ t: 'D001', service: 'inquiry' });
    // The request is finished: the citizen waits for a delivery window.
    expect((await kp9.request('cmd', { cmd: 'transfer', service: 'delivery' }, 'screen')).body).toMatchObject({ t: null });
    expect((await kp7.request('cmd', { cmd: 'call', ticket: 'D001' }, 'screen')).body).toMatchObject({ t: 'D001', service: 'delivery' });
    expect((await kp7.request('cmd', { cmd: 'done' }, 'screen')).body).toMatchObject({ t: null });

    // A citizen who holds only an inquiry number is called by it.
    const c = await kp7.request('cmd', { cmd: 'callInquiry', inquiry: '2026-88412' }, 'screen');
    expect(c.body).toMatchObject({ t: '2026-88412', w: 7 });
    await board.waitFor('display', (b) => (b.flash as { t: string })?.t === '2026-88412');
    await kp7.request('cmd', { cmd: 'done' }, 'screen');
  });

  it('a repeated press id returns the same ticket; a repeated keypad command id is not done twice', async () => {
    const disp = await dev('disp-2');
    const kp2 = await dev('kp-2');
    const a = await disp.request('press', { id: 'boot7-1', service: 'complaints' }, 'ticket');
    const b = await disp.request('press', { id: 'boot7-1', service: 'complaints' }, 'ticket');
    expect((b.body.ticket as { t: string }).t).toBe((a.body.ticket as { t: string }).t);
    expect(b.body.duplicate).toBe(true);
    // A dispenser retrying on a slow link: every retry answered, the journal told once (then counted, every 10 s).
    for (let i = 0; i < 5; i++) expect((await disp.request('press', { id: 'boot7-1', service: 'complaints' }, 'ticket')).body.duplicate).toBe(true);
    expect(hub.logs.filter((l) => l.device === 'disp-2' && String(l.msg).startsWith('repeated press'))).toHaveLength(1);
    const c = await disp.request('press', { id: 'boot7-2', service: 'complaints' }, 'ticket');
    expect((c.body.ticket as { t: string }).t).not.toBe((a.body.ticket as { t: string }).t);

    await disp.request('press', { id: 'boot7-3', service: 'intake' }, 'ticket');
    await disp.request('press', { id: 'boot7-4', service: 'intake' }, 'ticket');
    const n1 = await kp2.request('cmd', { id: 'k-1', cmd: 'next' }, 'screen');
    const n2 = await kp2.request('cmd', { id: 'k-1', cmd: 'next' }, 'screen');
    expect(n2.body.t).toBe(n1.body.t);
    const n3 = await kp2.request('cmd', { id: 'k-2', cmd: 'next' }, 'screen');
    expect(n3.body.t).not.toBe(n1.body.t);
    await kp2.request('cmd', { cmd: 'done' }, 'screen');
  });

  it('refuses a wrong secret and an unknown device with "not authorized", and keeps serving', async () => {
    expect(await connackCode(hub.mqttPort, 'kp-3', 'kp-3', 'not-the-secret')).toBe(5);
    expect(await connackCode(hub.mqttPort, 'rogue-9', 'rogue-9', 'whatever-secret')).toBe(5);
    expect(await connackCode(hub.mqttPort, 'kp-3', 'kp-4', secrets['kp-4']!)).toBe(5); // id and username must match
    // Three refusals from one address: one log line now, the rest summed up later, not one line each.
    const logged = hub.logs.filter((l) => l.msg === 'login refused (not authorized)');
    expect(logged.length).toBe(1);
    expect(logged[0]).toMatchObject({ addr: '127.0.0.1', reason: 'wrong secret' });
    expect(JSON.stringify(hub.logs)).not.toContain('not-the-secret');
    const disp = await dev('disp-1');
    expect((await disp.request('press', { service: 'intake' }, 'ticket')).leaf).toBe('ticket');
  });

  it('enforces the ACL: a keypad cannot act for another window or read another device', async () => {
    const kp3 = await dev('kp-3');
    const kp4 = await dev('kp-4');
    const before = (await kp4.request('cmd', { cmd: 'screen' }, 'screen')).body;
    // Publishing on kp-4's command topic is dropped and kp-3 is told.
    const since = kp3.mark();
    await kp3.client.publishAsync('qhub/dev/kp-4/cmd', JSON.stringify({ v: 1, id: 'x1', cmd: 'next' }), { qos: 1 });
    const err = await kp3.waitFor('error', (b) => b.code === 'forbidden', 3000, since);
    expect(String(err.message)).toContain('qhub/dev/kp-3/cmd');
    // Naming another window in its own command is refused too.
    const r = await kp3.request('cmd', { cmd: 'next', window: 4 }, 'screen');
    expect(r.leaf).toBe('error');
    expect(r.body.code).toBe('forbidden');
    const after = (await kp4.request('cmd', { cmd: 'screen' }, 'screen')).body;
    expect(after.t).toBe(before.t);
    expect(after.state).toBe(before.state);

    // mqtt.js reports a SUBACK with refusals as an error carrying the granted list.
    const granted = await new Promise<number[]>((resolve) =>
      kp3.client.subscribe(['qhub/dev/kp-4/screen', '#', '$SYS/#', 'qhub/dev/kp-3/screen'], { qos: 1 }, (err, g) =>
        resolve(((err as { packet?: { granted: number[] } } | null)?.packet?.granted ?? g?.map((x) => x.qos)) as number[]),
      ),
    );
    expect(granted).toEqual([128, 128, 128, 1]);
    // Publishing to $SYS or to a board's display topic is dropped.
    await kp3.client.publishAsync('qhub/dev/board-1/display', JSON.stringify({ v: 1, rows: [{ t: 'Z999', w: 1 }] }), { qos: 1 });
    const board = await dev('board-1');
    await new Promise((r) => setTimeout(r, 200));
    expect(JSON.stringify(board.messages)).not.toContain('Z999');
  });

  it('answers malformed, ill-typed, unknown and oversized requests with an error and keeps serving', async () => {
    const kp6 = await dev('kp-6');
    const disp = await dev('disp-2');
    let since = kp6.mark();
    await kp6.client.publishAsync('qhub/dev/kp-6/cmd', '{"v":1,"id":"m1","cmd":', { qos: 1 });
    expect((await kp6.waitFor('error', (b) => b.code === 'bad_json', 3000, since)).message).toBeTruthy();

    const wrongType = await kp6.request('cmd', { cmd: 'transfer', service: 42 }, 'screen');
    expect(wrongType.body).toMatchObject({ code: 'bad_payload' });
    expect(String(wrongType.body.message)).toContain('service');
    expect((await kp6.request('cmd', { cmd: 'dance' }, 'screen')).body).toMatchObject({ code: 'unknown_command' });
    expect((await kp6.request('cmd', { cmd: 'done' }, 'screen')).body).toMatchObject({ code: 'window_idle' });
    expect((await disp.request('press', { service: 'nope' }, 'ticket')).body).toMatchObject({ code: 'not_bound' });
    expect((await disp.request('press', { v: 2, service: 'intake' }, 'ticket')).body).toMatchObject({ code: 'unsupported_version' });

    since = disp.mark();
    // Over the payload limit but within the packet limit (payload + 1024): told, and the connection stays.
    await disp.client.publishAsync('qhub/dev/disp-2/press', JSON.stringify({ v: 1, id: 'big', service: 'intake', pad: 'x'.repeat(8_500) }), { qos: 1 });
    expect((await disp.waitFor('error', (b) => b.code === 'too_large', 3000, since)).message).toContain('8192');
    // Still serving both of them.
    expect((await disp.request('press', { service: 'intake' }, 'ticket')).leaf).toBe('ticket');
    expect((await kp6.request('cmd', { cmd: 'next' }, 'screen')).leaf).toBe('screen');
    const health = (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as Record<string, unknown>;
    expect(health.status).toBe('ok');
  });

  it('warns that it runs a demo setup (example center, demo secrets)', () => {
    const warn = hub.logs.find((l) => String(l.msg).startsWith('DEMO SETUP'));
    expect(warn).toMatchObject({ level: 40, demoSecrets: Object.keys(secrets).length });
  });

  it('reports health with devices online and offline', async () => {
    await dev('wd-2');
    const res = await fetch(`http://127.0.0.1:${hub.httpPort}/health`);
    expect(res.status).toBe(200);
    const h = (await res.json()) as { status: string; uptime: number; devices: { online: number; offline: number; list: { id: string; online: boolean }[] } };
    expect(h.status).toBe('ok');
    expect(h.devices.online).toBeGreaterThanOrEqual(Object.keys(devs).length);
    expect(h.devices.online + h.devices.offline).toBe(exampleDevices().length);
    expect(h.devices.list.find((d) => d.id === 'wd-2')?.online).toBe(true);
    expect(h.devices.list.find((d) => d.id === 'wd-10')?.online).toBe(false);
    expect((await fetch(`http://127.0.0.1:${hub.httpPort}/nope`)).status).toBe(404);
  });
});

describe('running hub: a device over its rate', () => {
  it('is told, slowed down and then served again on the same connection', async () => {
    const { dir, config } = testCenter();
    const hub = await startHub(config, join(dir, 'data'));
    const disp = await connectDevice(hub.mqttPort, 'disp-2', secrets['disp-2']!);
    try {
      const mark = disp.mark();
      // A stuck button: 100 presses at once, QoS 1, over the burst of 40.
      await Promise.all(Array.from({ length: 100 }, (_, i) => disp.client.publishAsync('qhub/dev/disp-2/press', JSON.stringify({ v: 1, id: `s${i}`, service: 'intake' }), { qos: 1 })));
      await disp.waitFor('error', (b) => b.code === 'rate_limited', 3000, mark);
      const tickets = disp.messages.slice(mark).filter((m) => m.topic.endsWith('/ticket')).length;
      expect(tickets).toBeGreaterThanOrEqual(35);
      expect(tickets).toBeLessThan(60);
      await new Promise((r) => setTimeout(r, 1500));
      const after = await disp.request('press', { service: 'treasury' }, 'ticket', 3000);
      expect(after.leaf).toBe('ticket');
      expect((after.body.ticket as { t: string }).t).toBe('B001');
    } finally {
      await disp.close();
      await hub.stop();
    }
  });
});

describe('running hub: MQTT over WebSocket and TLS', () => {
  it('serves a board over WebSocket at /mqtt on the HTTP port and a keypad over TLS', async () => {
    const { dir, config } = testCenter((doc, d) => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(d, 'key.pem'), '-out', join(d, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
      doc.setIn(['hub', 'mqtt', 'tls'], doc.createNode({ port: 0, cert: join(d, 'cert.pem'), key: join(d, 'key.pem') }));
    });
    const hub = await startHub(config, join(dir, 'data'));
    const tlsPort = hub.logs.find((l) => l.msg === 'qhub ready')!.tls as number;
    expect(tlsPort).toBeGreaterThan(0);
    const ws = await mqtt.connectAsync(`ws://127.0.0.1:${hub.httpPort}/mqtt`, { clientId: 'board-2', username: 'board-2', password: secrets['board-2']!, protocolVersion: 4, reconnectPeriod: 0 });
    const tls = await mqtt.connectAsync({ protocol: 'mqtts', host: '127.0.0.1', port: tlsPort, rejectUnauthorized: false, clientId: 'kp-8', username: 'kp-8', password: secrets['kp-8']!, protocolVersion: 4, reconnectPeriod: 0 });
    try {
      const displays: Record<string, unknown>[] = [];
      ws.on('message', (_t, p) => displays.push(JSON.parse(p.toString()) as Record<string, unknown>));
      await ws.subscribeAsync('qhub/dev/board-2/display', { qos: 1 });
      const screens: Record<string, unknown>[] = [];
      tls.on('message', (_t, p) => screens.push(JSON.parse(p.toString()) as Record<string, unknown>));
      await tls.subscribeAsync('qhub/dev/kp-8/screen', { qos: 1 });
      const disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
      await disp.request('press', { service: 'delivery' }, 'ticket');
      await tls.publishAsync('qhub/dev/kp-8/cmd', JSON.stringify({ v: 1, id: 'tls-1', cmd: 'next' }), { qos: 1 });
      await vi.waitFor(() => expect(screens.some((s) => s.re === 'tls-1' && s.t === 'C001')).toBe(true), { timeout: 3000 });
      await vi.waitFor(() => expect(displays.some((d) => (d.flash as { t: string } | null)?.t === 'C001')).toBe(true), { timeout: 3000 });
      await disp.close();
    } finally {
      await Promise.all([ws.endAsync(), tls.endAsync()]);
      expect(await hub.stop()).toBe(0);
    }
  });
});

describe('running hub: a flooding device does not slow the others', () => {
  it('keeps answering a dispenser and a keypad promptly while another dispenser floods', async () => {
    const { dir, config } = testCenter();
    const hub = await startHub(config, join(dir, 'data'));
    const disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
    const kp = await connectDevice(hub.mqttPort, 'kp-1', secrets['kp-1']!);
    const flooder = spawn(process.execPath, [FLOODER, String(hub.mqttPort), 'disp-2', secrets['disp-2']!, '4'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    flooder.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const flooderDone = new Promise((r) => flooder.on('exit', r));
    try {
      await vi.waitFor(() => expect(out).toContain('FLOODING'), { timeout: 5000 });
      await new Promise((r) => setTimeout(r, 300));
      const latencies: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        const r = await disp.request('press', { service: 'treasury' }, 'ticket', 5000);
        expect(r.leaf).toBe('ticket');
        const k = await kp.request('cmd', { cmd: i % 2 ? 'done' : 'next' }, 'screen', 5000);
        expect(k.leaf).toBe('screen');
        latencies.push(performance.now() - t0);
      }
      await flooderDone;
      const [, sent, errors] = /SENT (\d+) ERRORS (\d+)/.exec(out)!.map(Number) as [number, number, number];
      const health = (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as { seq: number };
      latencies.sort((a, b) => a - b);
      console.log(`flood: disp-2 sent ${sent} presses in 4 s (${errors} rate_limited replies); log has ${health.seq} events; others' press+command p50 ${latencies[10]!.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`);
      expect(errors).toBeGreaterThan(0);
      // At most the configured rate got through as tickets (20/s, burst 40, over ~4 s), not the flood.
      expect(health.seq).toBeLessThan(40 + 20 * 6 + 100);
      expect(sent).toBeGreaterThan(1000);
      // Promptly: every press+command pair of the others well under a second while the flood runs.
      expect(latencies.at(-1)!).toBeLessThan(1000);
    } finally {
      flooder.kill('SIGKILL');
      await Promise.all([disp.close(), kp.close()]);
      await hub.stop();
    }
  });
});

describe('running hub: killed and restarted mid-flow', () => {
  it('restores boards, displays and keypads, and continues numbering', async () => {
    const { dir, config } = testCenter();
    const data = join(dir, 'data');
    let hub = await startHub(config, data);
    let disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
    let kp3 = await connectDevice(hub.mqttPort, 'kp-3', secrets['kp-3']!);
    const numbers: string[] = [];
    for (let i = 0; i < 3; i++) numbers.push(((await disp.request('press', { service: 'intake' }, 'ticket')).body.ticket as { t: string }).t);
    await kp3.request('cmd', { cmd: 'next' }, 'screen');
    await disp.close();
    await kp3.close();
    await hub.kill(); // power cut: no clean shutdown

    hub = await startHub(config, data);
    try {
      const t0 = Date.now();
      const board = await connectDevice(hub.mqttPort, 'board-1', secrets['board-1']!);
      const b = await board.waitFor('display', (x) => (x.rows as { t: string }[]).length > 0, 1000);
      expect(Date.now() - t0).toBeLessThan(1500);
      expect(b.rows).toEqual([{ t: 'A001', w: 3 }]);
      const wd3 = await connectDevice(hub.mqttPort, 'wd-3', secrets['wd-3']!);
      expect(await wd3.waitFor('display', () => true, 1000)).toMatchObject({ t: 'A001', w: 3 });
      kp3 = await connectDevice(hub.mqttPort, 'kp-3', secrets['kp-3']!);
      expect(await kp3.waitFor('screen', () => true, 1000)).toMatchObject({ t: 'A001', waiting: 2 });
      disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
      const next = ((await disp.request('press', { service: 'intake' }, 'ticket')).body.ticket as { t: string }).t;
      expect(next).toBe('A004');
      expect(numbers).toEqual(['A001', 'A002', 'A003']);
      await Promise.all([board.close(), wd3.close(), kp3.close(), disp.close()]);
    } finally {
      expect(await hub.stop()).toBe(0);
    }
    expect(hub.logs.some((l) => l.msg === 'stopped: store closed')).toBe(true);
  });
});

describe('running hub: refuses to start on a broken config or an unusable port', () => {
  it('exits 1 and names the file, line and key of each problem', () => {
    const { dir, config } = testCenter((doc) => doc.setIn(['windows', 0, 'services'], doc.createNode(['intake', 'licences'])));
    const r = spawnSync(process.execPath, [CLI, 'start', '--config', config, '--data', join(dir, 'data'), '--json'], { encoding: 'utf8', timeout: 20_000, env: cleanEnv() });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`${config.replaceAll('/', '\\/')}:\\d+: windows\\[0\\]\\.services\\[1\\]: service \\\\"licences\\\\" does not exist`));
  });

  it('exits 1 with a hint when the MQTT port is taken', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const port = (blocker.address() as AddressInfo).port;
    const { dir, config } = testCenter((doc) => doc.setIn(['hub', 'mqtt', 'port'], port));
    const r = spawnSync(process.execPath, [CLI, 'start', '--config', config, '--data', join(dir, 'data'), '--json'], { encoding: 'utf8', timeout: 20_000, env: cleanEnv() });
    blocker.close();
    expect(r.status).toBe(1);
    // The port, the key and where it is written.
    const line = readFileSync(config, 'utf8').split('\n').findIndex((l) => l.includes(`port: ${port}`)) + 1;
    expect(line).toBeGreaterThan(0);
    const fatal = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => l.level === 60);
    expect(fatal?.msg).toBe(`cannot start mqtt: port ${port} on 127.0.0.1 is in use by another program (sudo ss -ltnp 'sport = :${port}' names it): stop it, or change hub.mqtt.port (${config}:${line})`);
  });

  it('names the HTTP port and its config line when that one is taken', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const port = (blocker.address() as AddressInfo).port;
    const { dir, config } = testCenter((doc) => doc.setIn(['hub', 'http', 'port'], port));
    const r = spawnSync(process.execPath, [CLI, 'start', '--config', config, '--data', join(dir, 'data'), '--json'], { encoding: 'utf8', timeout: 20_000, env: cleanEnv() });
    blocker.close();
    expect(r.status).toBe(1);
    const line = readFileSync(config, 'utf8').split('\n').findIndex((l) => l.includes(`port: ${port}`)) + 1;
    expect(r.stdout).toContain(`port ${port} on 127.0.0.1 is in use by another program`);
    expect(r.stdout).toContain(`change hub.http.port (${config}:${line})`);
  });

  it('refuses the demo secrets under systemd or NODE_ENV=production, and warns about them from a checkout', () => {
    const { dir, config } = testCenter();
    const start = (env: Record<string, string>) =>
      spawnSync(process.execPath, [CLI, 'start', '--config', config, '--data', join(dir, 'data'), '--json'], {
        encoding: 'utf8',
        timeout: 20_000,
        env: { ...cleanEnv(), ...env },
      });
    for (const env of [{ INVOCATION_ID: 'a5e1f00dfeed' }, { NODE_ENV: 'production' }] as Record<string, string>[]) {
      const r = start(env);
      expect(r.status, JSON.stringify(env)).toBe(1);
      const fatal = r.stdout.split('\n').filter((l) => l.includes('"level":60'));
      expect(fatal).toHaveLength(1);
      expect(fatal[0]).toContain('use the demo secrets published with qhub');
      expect(fatal[0]).toContain('openssl rand -hex 16');
      expect(r.stdout).not.toContain('qhub ready');
    }
  });
});

/** The environment without what would make the daemon think it runs under systemd in production. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.INVOCATION_ID;
  delete env.NOTIFY_SOCKET;
  env.NODE_ENV = 'test';
  return env;
}
