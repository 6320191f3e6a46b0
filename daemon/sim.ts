/**
 * A simulated center: the configured MQTT devices as real mqtt.js clients
 * over TCP, speaking the protocol exactly as firmware would. Dispensers
 * issue tickets at a citizen-like rate, keypads call and finish, boards and
 * speakers log what they would show and say.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { CenterConfig, DeviceConfig } from '../config/schema.js';
import { devTopic, HUB_STATUS } from './mqtt/topics.js';

export interface SimOptions {
  config: CenterConfig;
  secrets: Map<string, string>;
  port: number;
  host?: string;
  log: Logger;
  /** Citizens per minute at each dispenser. */
  ratePerMinute: number;
  /** Mean service time at a window, seconds. */
  serviceSeconds?: number;
  /** Told what the simulated boards show, speakers say and dispensers print (the live panel, daemon/panel). */
  watch?: SimWatch;
}

export interface SimWatch {
  board(id: string, shows: { rows: { t: string; w: number }[]; flash: { t: string; w: number } | null }): void;
  said(id: string, text: string): void;
  printed(id: string, t: string): void;
}

/** Connects one device the way docs/PROTOCOL.md tells firmware to. */
export function connectDevice(o: { id: string; secret: string; port: number; host?: string; model?: string }): MqttClient {
  const client = mqtt.connect({
    host: o.host ?? '127.0.0.1',
    port: o.port,
    protocolVersion: 4,
    clientId: o.id,
    username: o.id,
    password: o.secret,
    clean: true,
    keepalive: 30,
    reconnectPeriod: 1000,
    will: { topic: devTopic(o.id, 'status'), payload: Buffer.from(JSON.stringify({ v: 1, state: 'offline' })), qos: 1, retain: true },
  });
  client.on('connect', () => {
    (client.stream as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
    client.publish(devTopic(o.id, 'status'), JSON.stringify({ v: 1, state: 'online', model: o.model ?? 'sim', fw: 'sim-1' }), { qos: 1, retain: true });
  });
  return client;
}

const exp = (mean: number) => -Math.log(1 - Math.random()) * mean;

export async function startSimulation(o: SimOptions): Promise<{ stop(): Promise<void>; clients: MqttClient[] }> {
  const boot = randomBytes(3).toString('hex');
  const clients: MqttClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  const serviceMs = (o.serviceSeconds ?? 12) * 1000;
  let n = 0;
  const nextId = () => `${boot}-${++n}`;

  const devices = o.config.devices.filter((d) => d.enabled && d.transport.type === 'mqtt' && o.secrets.has(d.id));
  for (const d of devices) {
    const log = o.log.child({ device: d.id });
    const c = connectDevice({ id: d.id, secret: o.secrets.get(d.id)!, port: o.port, host: o.host, model: d.model });
    clients.push(c);
    c.on('connect', () => c.subscribe([devTopic(d.id, '+'), HUB_STATUS], { qos: 1 }));
    c.on('error', (e) => log.warn({ err: e.message }, 'simulated device: connection error'));
    const on = (leaf: string, fn: (m: Record<string, unknown>) => void) =>
      c.on('message', (topic, payload) => {
        if (topic === devTopic(d.id, leaf)) fn(JSON.parse(payload.toString()) as Record<string, unknown>);
      });
    on('error', (m) => log.info({ code: m.code }, `device shows error: ${String(m.message)}`));
    switch (d.kind) {
      case 'dispenser':
        simulateDispenser(o, d, c, log, nextId, timers, on);
        break;
      case 'keypad':
        simulateKeypad(o, d, c, nextId, timers, on, serviceMs);
        break;
      case 'board':
        on('display', (m) => {
          const rows = (m.rows as { t: string; w: number }[]) ?? [];
          const flash = (m.flash as { t: string; w: number } | null) ?? null;
          o.watch?.board(d.id, { rows, flash });
          log.info(`board │ ${rows.map((r) => `${r.t} → ${r.w}`).join(' │ ') || '—'} │${flash ? ` flashing ${flash.t}` : ''}`);
        });
        break;
      case 'speaker':
        on('announce', (m) => {
          const text = m.text as Record<string, string> | undefined;
          const words = String(text?.ar ?? text?.en ?? '');
          o.watch?.said(d.id, [text?.ar, text?.en].filter(Boolean).join(' / '));
          log.info(`speaker says: ${words}`);
        });
        break;
      default:
        break;
    }
  }
  return {
    clients,
    async stop() {
      for (const t of timers) clearTimeout(t);
      await Promise.all(clients.map((c) => c.endAsync().catch(() => undefined)));
    },
  };
}

type On = (leaf: string, fn: (m: Record<string, unknown>) => void) => void;

function simulateDispenser(o: SimOptions, d: DeviceConfig, c: MqttClient, log: Logger, nextId: () => string, timers: NodeJS.Timeout[], on: On): void {
  const services = d.bind.services ?? [];
  const weights = services.map((s) => (s === 'intake' ? 4 : s === 'treasury' ? 1 : 2));
  const total = weights.reduce((a, b) => a + b, 0);
  const press = () => {
    if (c.connected && services.length) {
      let r = Math.random() * total;
      const i = weights.findIndex((w) => (r -= w) < 0);
      const service = services[Math.max(0, i)]!;
      const prio = o.config.services.find((s) => s.id === service)?.priority && Math.random() < 0.1;
      c.publish(devTopic(d.id, 'press'), JSON.stringify({ v: 1, id: nextId(), service, ...(prio ? { priority: 'elderly' } : {}) }), { qos: 1 });
    }
    timers.push(setTimeout(press, exp(60_000 / o.ratePerMinute)));
  };
  on('ticket', (m) => {
    const t = m.ticket as { t: string; ahead: number; waitMin: number; name: { ar: string } };
    o.watch?.printed(d.id, t.t);
    log.info(`prints ticket ${t.t} (${t.name.ar}): ${t.ahead} ahead, about ${t.waitMin} min`);
  });
  timers.push(setTimeout(press, 500 + Math.random() * 2000));
}

function simulateKeypad(o: SimOptions, d: DeviceConfig, c: MqttClient, nextId: () => string, timers: NodeJS.Timeout[], on: On, serviceMs: number): void {
  let screen: { t: string | null; waiting: number; service: string | null } = { t: null, waiting: 0, service: null };
  let busyUntil = 0;
  const send = (cmd: string, extra: Record<string, unknown> = {}) => c.publish(devTopic(d.id, 'cmd'), JSON.stringify({ v: 1, id: nextId(), cmd, ...extra }), { qos: 1 });
  on('screen', (m) => {
    const had = screen.t;
    screen = { t: (m.t as string | null) ?? null, waiting: Number(m.waiting ?? 0), service: (m.service as string | null) ?? null };
    if (screen.t && screen.t !== had) busyUntil = Date.now() + exp(serviceMs);
  });
  const step = () => {
    if (c.connected) {
      if (!screen.t) {
        if (screen.waiting > 0) send('next');
      } else if (Date.now() > busyUntil) {
        const r = Math.random();
        if (screen.service === 'intake' && r < 0.3 && o.config.services.some((s) => s.id === 'treasury')) send('transfer', { service: 'treasury' });
        else if (r > 0.95) send('noShow');
        else send('done');
      }
    }
    timers.push(setTimeout(step, 800 + Math.random() * 1500));
  };
  timers.push(setTimeout(step, 1000 + Math.random() * 2000));
}
