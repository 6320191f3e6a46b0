/**
 * Alerts against the real daemon: a device dropping off in opening hours
 * raises an alert on the retained topic qhub/hub/alerts, in /health and as a
 * forwarded event; coming back clears it; with the center closed nothing is
 * raised. Opening hours are switched by a reload (SIGHUP).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseDocument } from 'yaml';
import { isOpen } from '../daemon/alerts/module.js';
import { loadCenter } from '../config/load.js';
import { connectDevice, exampleSecrets, startHub, testCenter, type RunningHub, type TestDevice } from './helpers/hub.js';

const secrets = exampleSecrets();
const SUPERVISOR = 'alerts-test-supervisor';
const ALL_DAY = Object.fromEntries(['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'].map((d) => [d, ['00:00', '24:00']]));
const CLOSED = Object.fromEntries(['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'].map((d) => [d, 'closed']));

describe('opening hours', () => {
  it('by weekday in the center’s time zone, Sunday to Thursday by default, Friday and Saturday closed', () => {
    const { config } = loadCenter(testCenter((doc) => doc.deleteIn(['center', 'hours'])).config, { QHUB_SUPERVISOR_SECRET: 'x'.repeat(12) });
    // 2026-11-22 is a Sunday; Cairo is UTC+2 in November.
    expect(isOpen(config, Date.parse('2026-11-22T08:30:00+02:00'))).toBe(true);
    expect(isOpen(config, Date.parse('2026-11-22T07:59:00+02:00'))).toBe(false);
    expect(isOpen(config, Date.parse('2026-11-22T15:00:00+02:00'))).toBe(false);
    expect(isOpen(config, Date.parse('2026-11-27T10:00:00+02:00'))).toBe(false); // Friday
    const sat = loadCenter(testCenter((doc) => doc.setIn(['center', 'hours'], doc.createNode({ sat: ['09:00', '13:00'] }))).config, { QHUB_SUPERVISOR_SECRET: 'x'.repeat(12) }).config;
    expect(isOpen(sat, Date.parse('2026-11-28T10:00:00+02:00'))).toBe(true); // a Saturday opening
    expect(isOpen(sat, Date.parse('2026-11-28T13:00:00+02:00'))).toBe(false);
  });
});

describe('alerts on the running hub', () => {
  let hub: RunningHub;
  let config: string;
  let server: Server;
  const forwarded: Record<string, unknown>[] = [];
  let topic: Record<string, unknown> | undefined;
  let watcher: mqtt.MqttClient;
  const devs: TestDevice[] = [];
  const health = async () => (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as { status: string; alerts?: { open: number; list: { alert: string }[] } };
  const hup = async (hours: Record<string, unknown>) => {
    const doc = parseDocument(readFileSync(config, 'utf8'));
    doc.setIn(['center', 'hours'], doc.createNode(hours));
    writeFileSync(config, doc.toString());
    const n = hub.logs.length;
    hub.proc.kill('SIGHUP');
    await vi.waitFor(() => expect(hub.logs.slice(n).some((l) => String(l.msg).startsWith('config reloaded'))).toBe(true), { timeout: 10_000 });
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        try {
          forwarded.push(...(JSON.parse(body) as { events: Record<string, unknown>[] }).events);
        } catch {
          /* a probe */
        }
        res.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const c = testCenter((doc) => {
      doc.setIn(['center', 'hours'], doc.createNode(ALL_DAY));
      doc.set('alerts', doc.createNode({ deviceOfflineSeconds: 1 }));
      doc.setIn(['hub', 'users', 0, 'secret'], SUPERVISOR);
      doc.set('forward', doc.createNode({ webhook: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/e`, secret: 'alerts-webhook-secret', lingerMs: 10, maxBackoffMs: 500 } }));
    });
    config = c.config;
    hub = await startHub(config, join(c.dir, 'data'));
    watcher = await mqtt.connectAsync({ host: '127.0.0.1', port: hub.mqttPort, clientId: 'supervisor', username: 'supervisor', password: SUPERVISOR, protocolVersion: 4 });
    watcher.on('message', (_t, p) => (topic = JSON.parse(p.toString()) as Record<string, unknown>));
    await watcher.subscribeAsync('qhub/hub/alerts', { qos: 1 });
  });
  afterAll(async () => {
    await Promise.all(devs.map((d) => d.close()));
    await watcher?.endAsync();
    await hub?.stop();
    server?.close();
  });

  it('a device dropping off in opening hours raises the alert on the topic, in /health and as a forwarded event; coming back clears it', async () => {
    const kp = await connectDevice(hub.mqttPort, 'kp-2', secrets['kp-2']!);
    devs.push(kp);
    await vi.waitFor(async () => expect((await health()).alerts?.list.map((a) => a.alert)).not.toContain('device.offline:kp-2'), { timeout: 10_000 });
    kp.client.stream.destroy(); // gone without a word: the broker sees the socket close
    await vi.waitFor(async () => expect((await health()).alerts?.list.map((a) => a.alert)).toContain('device.offline:kp-2'), { timeout: 15_000 });
    const h = await health();
    expect(h.status).toBe('degraded');
    await vi.waitFor(() => expect((topic?.open as { alert: string }[] | undefined)?.map((a) => a.alert)).toContain('device.offline:kp-2'), { timeout: 10_000 });
    await vi.waitFor(() => expect(forwarded.find((e) => e.type === 'alert.raised' && e.alert === 'device.offline:kp-2')).toMatchObject({ kind: 'device.offline', device: 'kp-2', message: expect.stringMatching(/keypad kp-2 is offline/) }), { timeout: 10_000 });
    const line = hub.logs.find((l) => String(l.msg).startsWith('ALERT') && l.device === 'kp-2');
    expect(line?.level).toBe(40);
    // Back: cleared everywhere.
    devs.push(await connectDevice(hub.mqttPort, 'kp-2', secrets['kp-2']!));
    await vi.waitFor(async () => expect((await health()).alerts?.list.map((a) => a.alert)).not.toContain('device.offline:kp-2'), { timeout: 10_000 });
    await vi.waitFor(() => expect((topic?.open as { alert: string }[]).map((a) => a.alert)).not.toContain('device.offline:kp-2'), { timeout: 10_000 });
    await vi.waitFor(() => expect(forwarded.some((e) => e.type === 'alert.cleared' && e.alert === 'device.offline:kp-2')).toBe(true), { timeout: 10_000 });
  });

  it('at night nothing is raised: closing clears the open device alerts, and a device dropping off raises none', async () => {
    await hup(CLOSED);
    await vi.waitFor(async () => expect((await health()).alerts?.open ?? 0).toBe(0), { timeout: 10_000 });
    expect((await health()).status).toBe('ok');
    const checks = async () => ((await health()) as unknown as { modules: { name: string; detail?: { checks?: number } }[] }).modules.find((m) => m.name === 'alerts')!.detail!.checks!;
    const kp = devs.at(-1)!;
    const n = hub.logs.length;
    kp.client.stream.destroy();
    await vi.waitFor(async () => expect(((await health()) as unknown as { devices: { list: { id: string; online: boolean }[] } }).devices.list.find((d) => d.id === 'kp-2')?.online).toBe(false), { timeout: 10_000 });
    // Two checks after the device left (one on the departure, one on the 5 s timer, past the 1 s grace).
    const after = await checks();
    await vi.waitFor(async () => expect(await checks()).toBeGreaterThanOrEqual(after + 2), { timeout: 20_000, interval: 200 });
    expect((await health()).alerts?.open ?? 0).toBe(0);
    expect(hub.logs.slice(n).some((l) => String(l.msg).startsWith('ALERT'))).toBe(false);
  });
});

describe('queue alerts follow opening hours', () => {
  it('with the center closed, a queue over its threshold raises nothing; opening (a reload) raises it, closing clears it', async () => {
    const c = testCenter((doc) => {
      doc.set('alerts', doc.createNode({ waiting: 2, longestWait: false }));
      doc.setIn(['hub', 'users', 0, 'secret'], SUPERVISOR);
    });
    const hub = await startHub(c.config, join(c.dir, 'data'));
    const devs: TestDevice[] = [];
    try {
      const health = async () => (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as { status: string; alerts: { list: { alert: string }[] }; modules: { name: string; detail?: { checks?: number } }[] };
      const disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
      devs.push(disp);
      for (let i = 0; i < 3; i++) expect((await disp.request('press', { service: 'intake' }, 'ticket')).leaf).toBe('ticket');
      // Closed (the test centers' hours): checks run, nothing is raised.
      const checks = async () => (await health()).modules.find((m) => m.name === 'alerts')!.detail!.checks!;
      const after = await checks();
      await vi.waitFor(async () => expect(await checks()).toBeGreaterThanOrEqual(after + 1), { timeout: 20_000, interval: 200 });
      expect((await health()).alerts.list.map((a) => a.alert)).not.toContain('queue.length:intake');
      const set = async (hours: Record<string, unknown>) => {
        const doc = parseDocument(readFileSync(c.config, 'utf8'));
        doc.setIn(['center', 'hours'], doc.createNode(hours));
        writeFileSync(c.config, doc.toString());
        const n = hub.logs.length;
        hub.proc.kill('SIGHUP');
        await vi.waitFor(() => expect(hub.logs.slice(n).some((l) => String(l.msg).startsWith('config reloaded'))).toBe(true), { timeout: 10_000 });
      };
      await set(ALL_DAY);
      await vi.waitFor(async () => expect((await health()).alerts.list.map((a) => a.alert)).toContain('queue.length:intake'), { timeout: 15_000 });
      await set(CLOSED);
      await vi.waitFor(async () => expect((await health()).alerts.list.map((a) => a.alert)).not.toContain('queue.length:intake'), { timeout: 15_000 });
    } finally {
      await Promise.all(devs.map((d) => d.close()));
      await hub.stop();
    }
  });
});
