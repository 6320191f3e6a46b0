/**
 * The MQTT bridge to an upstream broker: the governorate's Mosquitto or EMQX
 * cluster that collects the events of all its centers. It sends the event log
 * from its own durable cursor (`mqtt-bridge`), in order, QoS 1, to
 * `<prefix>/events` (one event per message, with its `key`); the cursor moves
 * when the upstream acknowledged a batch. `<prefix>/status` is retained:
 * `online` when connected, and the hub's last will (`offline`) when it dies
 * or loses the network, which the embedded broker cannot say for it. Backend
 * commands arrive on `<prefix>/commands` (the same JSON as the HTTP API) and
 * are answered on `<prefix>/replies`.
 *
 * Owns: its connection and cursor. May touch: the store (read, cursor), the
 * core (backend commands), the bus (listens, to wake).
 */
import { readFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { BRIDGE_PASSWORD } from '../../config/load.js';
import type { CenterConfig } from '../../config/schema.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';
import { Throttle } from '../spine/throttle.js';
import type { Store } from '../store/store.js';
import { backlog, Pump } from './cursor.js';
import { runBackendCommand } from './inbound.js';

export const BRIDGE_CURSOR = 'mqtt-bridge';

/** The `"id":"…"` of a command's raw text (1–64 characters, as the command schema allows), when it is there to read. */
export function idInText(text: string): string | undefined {
  const m = /"id"\s*:\s*"([^"\\]{1,64})"/.exec(text);
  return m?.[1];
}
type BridgeConfig = NonNullable<CenterConfig['forward']['mqtt']>;

export class MqttBridge implements HubModule {
  readonly name = 'mqtt-bridge';
  private readonly cfg: BridgeConfig;
  private readonly store: Store;
  private readonly log: Logger;
  private readonly prefix: string;
  private client?: MqttClient;
  private readonly pump: Pump;
  private stopping = false;
  private delivered = 0;
  private commands = 0;
  private lastError?: string;
  private unsubscribe?: () => void;
  private readonly errLog = new Throttle(60_000);
  /** A resend's cursor, applied between batches. */
  private rewindTo?: number;
  private sending = false;

  constructor(private readonly ctx: HubContext) {
    this.cfg = ctx.config.forward.mqtt!;
    this.store = ctx.core.store;
    // Pruning waits for this cursor even while the module cannot start: nothing undelivered is lost.
    this.store.registerReader(BRIDGE_CURSOR);
    this.log = ctx.log.child({ mod: 'mqtt-bridge' });
    this.prefix = this.cfg.prefix ?? `qhub/centers/${ctx.config.center.id}`;
    // Pending only while connected: a reconnect wakes it.
    this.pump = new Pump(() => this.pass(), () => !!this.client?.connected && this.store.isOpen && this.store.lastSeq > this.store.cursor(BRIDGE_CURSOR), 20);
  }

  async start(): Promise<void> {
    // mqtt.js is loaded only by a hub that bridges (it is ~10 % of a start-up otherwise).
    const { default: mqtt } = await import('mqtt');
    const center = this.ctx.config.center.id;
    const status = (state: string) => JSON.stringify({ v: 1, state, center });
    const password = this.ctx.secrets.get(BRIDGE_PASSWORD);
    if (this.cfg.password && !password) throw new Error('forward.mqtt.password is not set (see the config warnings)');
    const client = mqtt.connect(this.cfg.url, {
      clientId: this.cfg.clientId ?? `qhub-${center}`,
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      reconnectPeriod: 1000 + Math.round(Math.random() * 1000), // centers of a governorate do not all come back in step
      connectTimeout: 10_000,
      ...(this.cfg.username ? { username: this.cfg.username } : {}),
      ...(password ? { password } : {}),
      ...(this.cfg.ca ? { ca: readFileSync(this.cfg.ca) } : {}),
      ...(this.cfg.cert ? { cert: readFileSync(this.cfg.cert) } : {}),
      ...(this.cfg.key ? { key: readFileSync(this.cfg.key) } : {}),
      rejectUnauthorized: true,
      will: { topic: `${this.prefix}/status`, payload: Buffer.from(status('offline')), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      (client.stream as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
      this.lastError = undefined;
      this.log.info({ url: this.cfg.url, prefix: this.prefix }, 'connected to the upstream broker');
      client.publish(`${this.prefix}/status`, status('online'), { qos: 1, retain: true });
      client.subscribe(`${this.prefix}/commands`, { qos: 1 });
      this.pump.wake(0);
    });
    client.on('message', (topic, payload) => {
      if (topic !== `${this.prefix}/commands`) return;
      const text = payload.toString('utf8');
      const resend = this.resend(text);
      if (resend) {
        this.commands++;
        client.publish(`${this.prefix}/replies`, JSON.stringify({ ...resend.body, status: resend.code }), { qos: 1 });
        return;
      }
      void runBackendCommand(this.ctx, text).then((r) => {
        this.commands++;
        // A command that is not JSON has no parsed id; echo one if its text shows it, so the backend can match the reply.
        const re = r.body.re ?? (r.body.error === 'bad_json' ? idInText(text) : undefined);
        client.publish(`${this.prefix}/replies`, JSON.stringify({ ...r.body, ...(re !== undefined ? { re } : {}), status: r.code }), { qos: 1 });
      });
    });
    client.on('error', (e) => this.failed(e));
    client.on('close', () => {
      if (!this.stopping && this.errLog.pass('close').ok) this.log.warn({ url: this.cfg.url }, 'upstream broker connection closed: events are kept and sent after reconnecting');
    });
    this.unsubscribe = this.ctx.bus.on('committed', this.name, () => this.pump.wake());
  }

  /**
   * `{"id":…,"cmd":"resend","fromSeq":N}`: the events from N on are published
   * again (a consumer that found a gap in a center's `seq`); undefined for any
   * other command. The events the hub no longer keeps (delivered, older than
   * forward.keepDays) cannot be: the reply's `fromSeq` is the first one sent.
   */
  private resend(text: string): { code: number; body: Record<string, unknown> } | undefined {
    let c: { id?: unknown; cmd?: unknown; fromSeq?: unknown };
    try {
      c = JSON.parse(text) as typeof c;
    } catch {
      return undefined;
    }
    if (!c || typeof c !== 'object' || c.cmd !== 'resend') return undefined;
    const re = typeof c.id === 'string' && c.id.length >= 1 && c.id.length <= 64 ? c.id : undefined;
    if (!re || !Number.isInteger(c.fromSeq) || (c.fromSeq as number) < 1)
      return { code: 400, body: { v: 1, ...(re ? { re } : {}), error: 'bad_payload', message: 'resend needs "id" (1–64 characters) and "fromSeq" (an integer from 1)' } };
    const first = this.store.readAfter((c.fromSeq as number) - 1, 1)[0]?.seq;
    const lastSeq = this.store.lastSeq;
    if (first !== undefined) {
      this.rewindTo = Math.min(this.rewindTo ?? Infinity, first - 1);
      if (!this.sending) this.applyRewind();
      this.pump.wake(0);
    }
    this.log.info({ re, fromSeq: c.fromSeq, first, lastSeq }, 'backend asked for events again');
    return { code: 200, body: { v: 1, re, ok: true, fromSeq: first ?? null, lastSeq } };
  }

  private applyRewind(): void {
    if (this.rewindTo === undefined) return;
    if (this.rewindTo < this.store.cursor(BRIDGE_CURSOR)) this.store.setCursor(BRIDGE_CURSOR, this.rewindTo);
    this.rewindTo = undefined;
  }

  private failed(e: Error): void {
    this.lastError = e.message;
    if (this.errLog.pass(e.message).ok) this.log.warn({ err: e.message, url: this.cfg.url }, 'upstream broker: error; retrying');
  }

  /** One pass: sends batches while connected; undefined when drained or disconnected (a reconnect wakes it). */
  private async pass(): Promise<number | undefined> {
    const client = this.client;
    if (!client) return undefined;
    this.sending = true;
    try {
      const center = this.ctx.config.center.id;
      while (client.connected && !this.stopping && this.store.isOpen) {
        this.applyRewind();
        const events = this.store.readAfter(this.store.cursor(BRIDGE_CURSOR), this.cfg.batch);
        if (!events.length) return undefined;
        // QoS 1 on one connection keeps the order; the cursor moves when every PUBACK of the batch came.
        await Promise.all(events.map((e) => client.publishAsync(`${this.prefix}/events`, JSON.stringify({ key: `${center}:${e.seq}`, ...e }), { qos: 1 })));
        if (!this.store.isOpen) return undefined;
        this.store.setCursor(BRIDGE_CURSOR, events[events.length - 1]!.seq);
        this.delivered += events.length;
      }
    } catch (e) {
      this.failed(e as Error); // the connection went away mid-batch: the batch is sent again after reconnecting
    } finally {
      this.sending = false;
      // A resend asked for while this pass was sending: its cursor goes back now (and the pump, seeing events pending, runs again).
      if (this.store.isOpen) this.applyRewind();
    }
    return undefined;
  }

  health(): ModuleHealth {
    const b = backlog(this.store, BRIDGE_CURSOR, this.ctx.config.forward.alert);
    return {
      ok: b.ok,
      summary: { bridge: { connected: !!this.client?.connected, backlog: b.backlog, oldestMinutes: b.oldestMinutes } },
      detail: { url: this.cfg.url, prefix: this.prefix, cursor: b.cursor, delivered: this.delivered, commands: this.commands, ...(this.lastError ? { lastError: this.lastError } : {}) },
    };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.pump.stop();
    this.unsubscribe?.();
    const client = this.client;
    if (!client) return;
    if (client.connected)
      await Promise.race([
        client.publishAsync(`${this.prefix}/status`, JSON.stringify({ v: 1, state: 'offline', center: this.ctx.config.center.id }), { qos: 1, retain: true }).catch(() => undefined),
        new Promise((r) => setTimeout(r, 1000)),
      ]);
    await client.endAsync(true).catch(() => undefined);
  }
}
