/**
 * The embedded MQTT broker (Aedes) and the MQTT device link: listeners (TCP,
 * WebSocket on the HTTP server, optional TLS), authentication of devices and
 * users, the topic ACL (from each device's model definition), and per-client
 * limits on payload size and message rate. Requests from devices (presses,
 * keypad commands) go to the link listener (the device hub) and are never
 * forwarded to other clients; what the hub sends a device is published on
 * the device's topics.
 *
 * Owns: sockets, MQTT sessions, retained messages. May touch: the device
 * links registry (registers the `mqtt` transport). Knows no queue rules.
 */
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Role } from '../../contract/roles.js';
import { Bucket } from '../spine/bucket.js';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { WebSocketServer } from 'ws';
import type { CenterConfig, DeviceConfig } from '../../config/schema.js';
import { modelOf, type InLeaf, type OutLeaf } from '../../devices/index.js';
import { PROTOCOL_VERSION, type ProtocolErrorCode } from '../../contract/protocol.js';
import type { DeviceLink, LinkListener, OutMessage, Transport } from '../../contract/devices.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';
import { Throttle } from '../spine/throttle.js';
import { localTime } from '../engine/clock.js';
import { HEADER_ROOM, PacketGuard } from './guard.js';
import { devTopic, HUB_ALERTS, HUB_STATUS, parseDevTopic, ROOT } from './topics.js';

/**
 * mqtt-packet (Aedes's encoder) fills a cache of 65,536 two-byte buffers for
 * packet ids at its first write: 6 MiB of heap (seen in a heap snapshot of
 * the loaded daemon) to save an allocation per packet. On a Pi the memory
 * matters more; the encoder then makes the two bytes when it needs them.
 */
const aedesRequire = createRequire(createRequire(import.meta.url).resolve('aedes'));
const mqttPacket = aedesRequire('mqtt-packet') as { writeToStream: ((packet: object, stream: NodeJS.WritableStream) => boolean) & { cacheNumbers: boolean } };
mqttPacket.writeToStream.cacheNumbers = false;

/** Whether an MQTT topic filter (+ and # wildcards) matches a topic. */
export function filterMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

export type Principal = { kind: 'device'; device: DeviceConfig } | { kind: 'user'; name: string; role: Role };

type QClient = Client & { qhub?: Principal; qhubAddr?: string; qhubLocal?: string };

export interface BrokerOptions {
  /** The hub's HTTP server, for MQTT over WebSocket at /mqtt. */
  http?: HttpServer;
}

/** Topics a device may publish to: its status and the requests its model sends. */
const publishes = (d: DeviceConfig): readonly string[] => ['status', ...modelOf(d).sends];
/** Topics under its own id a device may subscribe to: what its model accepts. */
const receives = (d: DeviceConfig): readonly string[] => modelOf(d).accepts;

const VOID_TOPIC = '$qhub/void';
const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Counts failed logins per address so a scanner or a misconfigured device does not flood the journal. */
class LoginFailures {
  private readonly byAddr = new Map<string, { count: number; since: number; reasons: Set<string> }>();
  private timer?: NodeJS.Timeout;
  constructor(private readonly log: Logger) {}
  record(addr: string, client: string, reason: string): void {
    const entry = this.byAddr.get(addr);
    if (!entry) {
      this.byAddr.set(addr, { count: 0, since: Date.now(), reasons: new Set() });
      this.log.warn({ addr, client, reason }, 'login refused (not authorized)');
      this.timer ??= setInterval(() => this.flush(), 60_000).unref();
      return;
    }
    entry.count++;
    entry.reasons.add(reason);
  }
  flush(): void {
    for (const [addr, e] of this.byAddr) {
      if (e.count) this.log.warn({ addr, more: e.count, reasons: [...e.reasons] }, `login refused ${e.count} more times from ${addr} in the last minute`);
      this.byAddr.delete(addr);
    }
    if (!this.byAddr.size && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

export class Broker implements HubModule, Transport {
  readonly name = 'mqtt';
  readonly essential = true;
  readonly types = ['mqtt'] as const;
  aedes?: Aedes;
  private listener?: LinkListener;
  private readonly links: HubContext['links'];
  private config: CenterConfig;
  private readonly log: Logger;
  private servers: Server[] = [];
  private wss?: WebSocketServer;
  private devices: Map<string, DeviceConfig>;
  private users: Map<string, { name: string; role: Role }>;
  /** Per device or user id, kept across connections: reconnecting does not refill it. */
  private readonly buckets = new Map<string, Bucket>();
  /** Every retained topic's latest payload, as published (see freshRetained). */
  private readonly retainedNow = new Map<string, Buffer>();
  private readonly logins = new Map<string, Bucket>();
  private readonly conns = new Map<string, number>();
  private connCount = 0;
  /** Repeated lines (one client's refusals, one address's violations) at most once per interval, with a count. */
  private readonly quiet = new Throttle(10_000);
  private readonly doorQuiet = new Throttle(60_000);
  /** Errors without `re`: once a second per device and code, on the monotonic clock. */
  private readonly failures: LoginFailures;
  private readonly secretDigests = new Map<string, Buffer>();
  ports: { mqtt?: number; tls?: number } = {};
  closing = false;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly ctx: Pick<HubContext, 'config' | 'secrets' | 'log' | 'links' | 'bus'>,
    private readonly opts: BrokerOptions = {},
  ) {
    this.config = ctx.config;
    this.log = ctx.log.child({ mod: 'mqtt' });
    this.devices = new Map(ctx.config.devices.filter((d) => d.enabled && d.transport.type === 'mqtt').map((d) => [d.id, d]));
    this.users = new Map(ctx.config.hub.users.map((u) => [u.name, { name: u.name, role: u.role }]));
    for (const [id, s] of ctx.secrets) this.secretDigests.set(id, digest(s));
    this.failures = new LoginFailures(this.log);
    this.links = ctx.links;
  }

  // ------------------------------------------------------------ the device link

  listen(listener: LinkListener | undefined): void {
    this.listener = listener;
  }

  link(device: DeviceConfig): DeviceLink {
    return {
      device,
      // A retained view (screen, display) goes at QoS 0: devices connect with clean sessions and subscribe
      // again on every connect, which brings the retained latest, so QoS 1 would add a PUBACK and the
      // broker's in-flight bookkeeping per message and guard nothing (npm run bench: ~30% of a call's CPU at 50 windows).
      send: (m: OutMessage, o: { retain?: boolean; json?: string } = {}) => {
        const s = this.dispatch(devTopic(device.id, m.leaf), m.leaf === 'announce' && m.body.path ? { ...m.body, url: this.urlFor(device.id, m.body.path) } : (o.json ?? m.body), {
          retain: !!o.retain,
          qos: o.retain ? 0 : 1,
          ...(o.retain ? { direct: device.id } : {}),
        });
        // Written straight to the device: it is in the connection's buffer, ahead of any PUBACK, without waiting for the broker's copy.
        this.lastSend.set(device.id, s.direct ? SETTLED : s.done);
      },
    };
  }

  /**
   * A file the hub serves (a rendered announcement), as a URL the device can
   * reach: the address the device itself connected to, and the HTTP port.
   */
  private urlFor(id: string, path: string): string | undefined {
    const c = (this.aedes as unknown as { clients?: Record<string, QClient> } | undefined)?.clients?.[id];
    const addr = c?.qhubLocal?.replace(/^::ffff:/, '');
    const port = (this.opts.http?.address() as AddressInfo | null)?.port;
    if (!addr || !port) return undefined;
    return `http://${addr.includes(':') ? `[${addr}]` : addr}:${port}${path}`;
  }

  health(): ModuleHealth {
    return { ok: true, summary: { clients: this.connectedClients() }, detail: { ports: this.ports } };
  }

  async start(): Promise<void> {
    this.links.register(this);
    const http = this.opts.http;
    const m = this.config.hub.mqtt;
    const aedes = await Aedes.createBroker({
      id: 'qhub',
      maxTopicLevels: m.maxTopicLevels,
      queueLimit: 64,
      drainTimeout: 30_000,
      maxClientsIdLength: 48,
      connectTimeout: 10_000,
      heartbeatInterval: 60_000,
      authenticate: (c, u, p, cb) => this.authenticate(c as QClient, u, p, cb),
      authorizePublish: (c, p, cb) => this.authorizePublish(c as QClient | null, p, cb),
      authorizeSubscribe: (c, s, cb) => this.authorizeSubscribe(c as QClient, s, cb),
      // What went straight to a device (publish's `direct`) is not sent to it a second time.
      authorizeForward: (c, p) => (c && this.sentDirect.get(p.payload as Buffer) === c ? null : this.freshRetained(p)),
    });
    this.aedes = aedes;
    aedes.on('client', (c: QClient) => {
      const p = c.qhub;
      // debug: hall-log says which devices came online, a whole hall in one line at start-up
      this.noisy('debug', `connected/${c.id}`, { client: c.id, addr: c.qhubAddr, ...(p?.kind === 'device' ? { kind: p.device.kind } : { role: p?.role }) }, 'client connected');
    });
    aedes.on('clientDisconnect', (c: QClient) => {
      const p = c.qhub;
      if (p?.kind !== 'device') return;
      // A newer connection with the same id may already have replaced this one.
      const clients = (aedes as unknown as { clients: Record<string, Client> }).clients;
      if (clients[c.id] && clients[c.id] !== c) return;
      // At shutdown every device goes: one line from the daemon says so, not one per device.
      this.noisy(this.closing ? 'debug' : 'info', `disconnected/${p.device.id}`, { device: p.device.id }, 'device disconnected');
      if (!this.closing) this.publish(devTopic(p.device.id, 'status'), { v: PROTOCOL_VERSION, state: 'offline' }, { retain: true });
      this.listener?.offline(p.device, 'disconnected from the broker');
    });
    aedes.on('subscribe', (subs: Subscription[], c: QClient) => {
      const p = c.qhub;
      if (p?.kind === 'device' && subs.some((s) => s.topic.startsWith(`${ROOT}/dev/${p.device.id}/`))) this.listener?.wantsState(p.device);
    });
    aedes.on('clientError', (c: QClient, err: Error) => this.noisy('debug', `client-error/${c.id}`, { client: c.id, err: err.message }, 'client error'));
    aedes.on('connectionError', (c: QClient, err: Error) => this.noisy('debug', `conn-error/${c.qhubAddr}`, { addr: c.qhubAddr, err: err.message }, 'connection error'));

    // Every device's retained status exists from the start (offline until it says otherwise), so a
    // subscriber after a hub restart finds one for each device, as docs/PROTOCOL.md promises.
    for (const d of this.devices.values()) this.publish(devTopic(d.id, 'status'), { v: PROTOCOL_VERSION, state: 'offline' }, { retain: true });
    // Wired devices cannot publish their own status: the hub publishes it for them, in the same shape,
    // from what the wired transport reports (port open, device answering, its faults).
    const wiredStatus = (d: DeviceConfig, { state, ...more }: { state: 'online' | 'offline' } & Record<string, unknown>) =>
      this.publish(devTopic(d.id, 'status'), { v: PROTOCOL_VERSION, state, via: d.transport.type, ...more }, { retain: true });
    const isWired = (d: DeviceConfig) => d.enabled && d.transport.type !== 'mqtt';
    for (const d of this.config.devices.filter(isWired)) wiredStatus(d, { state: 'offline' });
    this.unsubscribe.push(
      // Dashboards read the open alerts from one retained topic.
      this.ctx.bus.on('alerts.changed', this.name, ({ open }) => void this.publish(HUB_ALERTS, { v: PROTOCOL_VERSION, open }, { retain: true })),
      this.ctx.bus.on('device.online', this.name, ({ device, model, fw, faults }) => {
        if (isWired(device)) wiredStatus(device, { state: 'online', ...(model ? { model } : {}), ...(fw ? { fw } : {}), ...(faults?.length ? { faults } : {}) });
      }),
      this.ctx.bus.on('device.offline', this.name, ({ device }) => {
        if (isWired(device) && !this.closing) wiredStatus(device, { state: 'offline' });
      }),
    );
    const maxPacket = m.maxPayloadBytes + HEADER_ROOM;
    const accept = (conn: Duplex, addr: string | undefined, req?: unknown, local?: string) => {
      const key = addr ?? '?';
      const loopback = key === '127.0.0.1' || key === '::1' || key === '::ffff:127.0.0.1';
      const here = this.conns.get(key) ?? 0;
      if (this.connCount >= m.maxConnections || (!loopback && here >= m.maxConnectionsPerAddress)) {
        this.doorLog(key, this.connCount >= m.maxConnections ? `too many connections (${this.connCount}, limit hub.mqtt.maxConnections)` : `too many connections from ${key} (limit hub.mqtt.maxConnectionsPerAddress)`);
        conn.destroy();
        return;
      }
      this.connCount++;
      this.conns.set(key, here + 1);
      conn.once('close', () => {
        this.connCount--;
        const n = (this.conns.get(key) ?? 1) - 1;
        if (n > 0) this.conns.set(key, n);
        else this.conns.delete(key);
      });
      // Sizes are checked on the raw bytes before Aedes's parser buffers a packet (see guard.ts).
      const guard = new PacketGuard(maxPacket);
      conn.on('data', (chunk: Buffer) => {
        const bad = guard.feed(chunk);
        if (!bad) return;
        this.doorLog(key, bad);
        conn.destroy();
      });
      const client = aedes.handle(conn as never, req as never) as unknown as QClient;
      client.qhubAddr = addr;
      client.qhubLocal = local;
    };
    const onSocket = (socket: Socket) => {
      socket.setNoDelay(true); // Nagle + delayed ACK costs ~44 ms per request/reply (npm run bench)
      socket.setKeepAlive(true, 30_000);
      accept(socket, socket.remoteAddress, undefined, socket.localAddress);
    };

    const tcp = createServer(onSocket);
    await listen(tcp, m.port, m.host);
    this.servers.push(tcp);
    this.ports.mqtt = (tcp.address() as AddressInfo).port;

    if (m.tls) {
      const tls = createTlsServer({ cert: readFileSync(m.tls.cert), key: readFileSync(m.tls.key) }, (s) => onSocket(s as unknown as Socket));
      await listen(tls as unknown as Server, m.tls.port, m.host);
      this.servers.push(tls as unknown as Server);
      this.ports.tls = ((tls as unknown as Server).address() as AddressInfo).port;
    }

    if (http) {
      // ws is loaded at the first MQTT-over-WebSocket connection (a browser page), not at start: ~4 MiB saved until then.
      http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (new URL(req.url ?? '/', 'http://hub').pathname !== '/mqtt' || this.closing) return void socket.destroy();
        void import('ws').then(
          ({ WebSocketServer, createWebSocketStream }) => {
            if (!this.wss) {
              this.wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024 });
              this.wss.on('error', (err) => this.log.warn({ err }, 'websocket server error'));
            }
            this.wss.handleUpgrade(req, socket, head, (ws) => {
              (req.socket as Socket).setNoDelay?.(true);
              accept(createWebSocketStream(ws), req.socket.remoteAddress, req, req.socket.localAddress);
            });
          },
          (err: unknown) => {
            this.log.error({ err }, 'cannot load the WebSocket server');
            socket.destroy();
          },
        );
      });
    }
    this.hubStatus('online');
    // Boards that show a clock take the hub's time from its status, republished at each minute.
    const everyMinute = () => {
      this.clockTimer = setTimeout(() => {
        if (this.closing) return;
        this.hubStatus('online');
        everyMinute();
      }, 60_000 - (Date.now() % 60_000) + 50);
      this.clockTimer.unref();
    };
    everyMinute();
    this.log.info({ port: this.ports.mqtt, tls: this.ports.tls, ws: http ? '/mqtt' : undefined }, 'MQTT broker listening');
  }

  // ------------------------------------------------------------ hooks

  private authenticate(c: QClient, username: Readonly<string> | undefined, password: Readonly<Buffer> | undefined, cb: (err: AuthenticateError | null, ok: boolean | null) => void): void {
    const refuse = (reason: string) => {
      this.failures.record(c.qhubAddr ?? '?', c.id, reason);
      const err = new Error('not authorized') as AuthenticateError;
      err.returnCode = 5;
      cb(err, null);
    };
    if (this.closing) return refuse('hub shutting down');
    if (!username || username !== c.id) return refuse('client id and username differ');
    const device = this.devices.get(username);
    const user = this.users.get(username);
    if (!device && !user) return refuse('unknown device');
    const expected = this.secretDigests.get(username);
    if (!expected) return refuse('no secret configured for it');
    if (!password || !timingSafeEqual(digest(password.toString('utf8')), expected)) return refuse('wrong secret');
    if (device) {
      const will = (c as unknown as { _will?: { topic: string } })._will;
      if (will && will.topic !== devTopic(device.id, 'status')) return refuse(`last will on a foreign topic ${will.topic}`);
      c.qhub = { kind: 'device', device };
    } else c.qhub = { kind: 'user', name: user!.name, role: user!.role };
    const m = this.config.hub.mqtt;
    let login = this.logins.get(username);
    if (!login) this.logins.set(username, (login = new Bucket(m.loginsPerSecond, 5)));
    if (!login.take()) {
      this.noisy('warn', `login-rate/${username}`, { client: username, addr: c.qhubAddr }, `${username} logs in too often (a reconnect loop?): refused for now, it may retry in a few seconds`);
      const err = new Error('server unavailable') as AuthenticateError;
      err.returnCode = 3;
      return cb(err, null);
    }
    if (!this.buckets.has(c.id)) this.buckets.set(c.id, new Bucket(m.messagesPerSecond, m.burst));
    cb(null, true);
  }

  /**
   * A reloaded config: the device and user tables and their secrets change in
   * place. A device or user that is gone, disabled, moved off MQTT or given a
   * new secret is disconnected (it must log in again); every other connection
   * stays, and a device whose binding or model changed is served by its new
   * definition from its next message. Listening ports and limits wait for a
   * restart (hub.mqtt is marked RESTART).
   */
  reload(config: CenterConfig): void {
    const before = new Map(this.secretDigests);
    this.config = config;
    this.devices = new Map(config.devices.filter((d) => d.enabled && d.transport.type === 'mqtt').map((d) => [d.id, d]));
    this.users = new Map(config.hub.users.map((u) => [u.name, { name: u.name, role: u.role }]));
    this.secretDigests.clear();
    for (const [id, secret] of this.ctx.secrets) this.secretDigests.set(id, digest(secret));
    const dropped: string[] = [];
    for (const c of Object.values((this.aedes as unknown as { clients: Record<string, QClient> } | undefined)?.clients ?? {})) {
      const p = c.qhub;
      if (!p) continue;
      const id = p.kind === 'device' ? p.device.id : p.name;
      const now = this.secretDigests.get(id);
      const was = before.get(id);
      const secretChanged = !now || !was || !now.equals(was);
      const device = p.kind === 'device' ? this.devices.get(id) : undefined;
      const user = p.kind === 'user' ? this.users.get(id) : undefined;
      if ((p.kind === 'device' && !device) || (p.kind === 'user' && (!user || user.role !== p.role)) || secretChanged) {
        dropped.push(id);
        c.close();
      } else if (device) c.qhub = { kind: 'device', device };
    }
    if (dropped.length) this.log.info({ clients: dropped }, `disconnected after the reload (removed, disabled or new secret): ${dropped.join(', ')}`);
    // A device that is gone gets nothing more: its last send need not be kept.
    for (const id of [...this.lastSend.keys()]) if (!this.devices.has(id)) this.lastSend.delete(id);
  }

  /** A device's request refused at the door: the device hub answers it on the device's error channel (throttled there). */
  private refuse(d: DeviceConfig, code: ProtocolErrorCode, message?: string): void {
    this.listener?.refused(d, code, message);
  }

  /**
   * A retained message as it is now. Aedes reads the retained messages for a
   * new SUBSCRIBE and sends them a moment later; a retained topic that changes
   * in between reaches the subscriber live first and then as the old retained
   * copy, which it would keep (seen under CPU load: a wired device's status
   * left "offline" on a supervisor's screen while the device was online). So a
   * retained copy on its way out is replaced by the topic's latest payload.
   */
  private freshRetained(packet: AedesPublishPacket): AedesPublishPacket {
    if (!packet.retain) return packet;
    const now = this.retainedNow.get(packet.topic);
    if (!now || now.equals(Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload))) return packet;
    return { ...packet, payload: now };
  }

  /** Notes what a retained topic holds now (empty: cleared), before Aedes stores it. */
  private noteRetained(topic: string, payload: Buffer): void {
    if (payload.length) this.retainedNow.set(topic, payload);
    else this.retainedNow.delete(topic);
  }

  private authorizePublish(c: QClient | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    const cb = (err?: Error | null) => {
      if (!err && packet.retain) this.noteRetained(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload));
      done(err);
    };
    if (!c) return cb(null); // a will restored by the broker itself; live wills come with their client and are checked like any publish
    const p = c.qhub;
    /** Acknowledges the packet but sends it nowhere (MQTT 3.1.1 has no refusal for a PUBLISH). */
    const drop = (delayMs = 0) => {
      packet.topic = VOID_TOPIC;
      packet.retain = false;
      packet.payload = Buffer.alloc(0);
      if (delayMs) setTimeout(() => cb(null), delayMs).unref();
      else cb(null);
    };
    if (packet.topic.startsWith('$')) {
      if (p?.kind === 'device') this.refuse(p.device, 'forbidden', `publishing to ${packet.topic.slice(0, 64)} is not allowed`);
      return drop();
    }
    if (!p || p.kind === 'user') {
      // Users (pages, tools) read; commands from them come through the HTTP API.
      this.noisy('warn', `user-publish/${c.id}`, { user: c.id, topic: packet.topic.slice(0, 120) }, 'publish refused: users may not publish');
      return drop();
    }
    const d = p.device;
    const m = this.config.hub.mqtt;
    if (!this.buckets.get(c.id)?.take()) {
      this.refuse(d, 'rate_limited', `more than ${m.messagesPerSecond} messages a second: slow down`);
      this.noisy('warn', `rate/${d.id}`, { device: d.id }, 'device over its message rate: messages dropped');
      // Answer late: Aedes reads no more from this client until its packets are handled,
      // so TCP flow control slows the sender itself and the hub spends nothing on its backlog.
      return drop(1000);
    }
    const t = parseDevTopic(packet.topic);
    if (!t || t.id !== d.id || !publishes(d).includes(t.leaf)) {
      this.noisy('warn', `acl-publish/${d.id}`, { device: d.id, topic: packet.topic.slice(0, 120) }, 'publish refused by the ACL');
      this.refuse(d, 'forbidden', `a ${d.kind} may publish only to ${publishes(d).map((l) => devTopic(d.id, l)).join(', ')}`);
      return drop();
    }
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    if (payload.length > m.maxPayloadBytes) {
      this.noisy('warn', `too-large/${d.id}`, { device: d.id, bytes: payload.length, max: m.maxPayloadBytes }, 'payload too large: dropped');
      this.refuse(d, 'too_large', `payloads are limited to ${m.maxPayloadBytes} bytes`);
      return drop();
    }
    if (t.leaf === 'status') {
      // The device hub reads it (presence, model, faults) and answers a bad one; a good one is kept retained.
      if (!this.listener?.status(d, payload)) return drop();
      packet.retain = true;
      return cb(null);
    }
    const listener = this.listener;
    if (this.closing || !listener) {
      this.refuse(d, 'shutting_down');
      return drop();
    }
    // The PUBACK goes after the reply: when the device sees it, the hub has committed and answered.
    let pending: void | Promise<void> = undefined;
    try {
      pending = listener.request(d, t.leaf as InLeaf, payload);
    } catch (e) {
      this.log.error({ device: d.id, err: e }, 'request handler failed');
    }
    if (!pending) return drop();
    // The reply (a ticket goes at QoS 1, through the broker) is on the wire before the PUBACK (docs/PROTOCOL.md).
    // A reply written straight to the device (link.send) holds nothing up: the PUBACK is written in the same
    // turn, before mqtt-packet uncorks the socket, and both leave in one write.
    pending.then(() => this.lastSend.get(d.id)).then(
      () => drop(),
      (e: unknown) => {
        this.log.error({ device: d.id, err: e }, 'request handler failed');
        drop();
      },
    );
  }

  /** A connection closed at the door: one line per address and reason a minute, with how many were held back. */
  private doorLog(addr: string, reason: string): void {
    const t = this.doorQuiet.pass(`${addr}/${reason.replace(/\d+/g, 'N')}`);
    if (t.ok) this.log.warn({ addr, reason, ...(t.held ? { more: t.held } : {}) }, `connection closed: ${reason}`);
  }

  /** A line about one client that may repeat fast (reconnect loops, refused topics): once per 10 s per kind, with a count. */
  private noisy(level: 'debug' | 'info' | 'warn', key: string, fields: Record<string, unknown>, msg: string): void {
    const t = this.quiet.pass(key);
    if (t.ok) this.log[level]({ ...fields, ...(t.held ? { more: t.held } : {}) }, t.held ? `${msg} (and ${t.held} more like it)` : msg);
  }

  private clockTimer?: NodeJS.Timeout;
  /** The retained hub status: state, and the time of day in the center for boards with a clock. */
  private hubStatus(state: 'online' | 'offline'): Promise<void> {
    const now = Date.now();
    const tz = this.config.center.timezone;
    const local = localTime(now, tz);
    const hhmm = `${String(local.hour).padStart(2, '0')}:${String(local.minute).padStart(2, '0')}`;
    return this.publish(HUB_STATUS, { v: PROTOCOL_VERSION, state, center: this.config.center.id, at: new Date(now).toISOString(), date: local.date, time: hhmm, tz }, { retain: true });
  }


  private authorizeSubscribe(c: QClient, sub: Subscription, cb: (err: Error | null, sub: Subscription | null) => void): void {
    const p = c.qhub;
    const t = sub.topic;
    // SUBSCRIBEs count against the same rate as publishes: a flood of them is refused, not logged line by line.
    if (!this.buckets.get(c.id)?.take()) {
      this.noisy('warn', `sub-rate/${c.id}`, { client: c.id }, 'subscriptions over the message rate: refused');
      // Tell a device why (a SUBACK 0x80 alone reads like an ACL refusal); once a second at most.
      if (p?.kind === 'device') this.refuse(p.device, 'rate_limited', `subscription to ${t.slice(0, 64)} refused: over ${this.config.hub.mqtt.messagesPerSecond} messages a second; subscribe again in a moment`);
      return cb(null, null);
    }
    let ok = false;
    if (p?.kind === 'user') ok = t === `${ROOT}/#` || t.startsWith(`${ROOT}/`) || (p.role === 'supervisor' && t.startsWith('$SYS/'));
    else if (p?.kind === 'device') {
      const own = `${ROOT}/dev/${p.device.id}/`;
      ok = t === HUB_STATUS || t === `${own}#` || t === `${own}+` || (t.startsWith(own) && receives(p.device).includes(t.slice(own.length)));
    }
    if (!ok) {
      this.noisy('warn', `acl-sub/${c.id}`, { client: c.id, topic: t.slice(0, 120) }, 'subscription refused by the ACL');
      return cb(null, null); // SUBACK 0x80 for this topic
    }
    cb(null, sub);
  }

  // ------------------------------------------------------------ publishing

  /** Per device, the latest message sent to it, until the broker has written it (a request's PUBACK waits for it). */
  private readonly lastSend = new Map<string, Promise<void>>();
  /** Payloads written straight to a device's connection (see publish), until the broker has forwarded them to everyone else. */
  private readonly sentDirect = new WeakMap<Buffer, QClient>();

  /**
   * Publishes through the broker (retained store, every subscriber). With
   * `direct` (a device's id; QoS 0 only), the message is first written
   * straight to that device's connection when it is subscribed to the topic:
   * the broker would write it a loop turn later (Aedes delays every QoS 0
   * delivery with setImmediate), after the PUBACK of the request it answers.
   */
  publish(topic: string, payload: unknown, opts: { retain?: boolean; qos?: 0 | 1; direct?: string } = {}): Promise<void> {
    return this.dispatch(topic, payload, opts).done;
  }

  /** publish, and whether the message was written straight to the `direct` device. */
  private dispatch(topic: string, payload: unknown, opts: { retain?: boolean; qos?: 0 | 1; direct?: string }): { direct: boolean; done: Promise<void> } {
    const aedes = this.aedes;
    if (!aedes || aedes.closed) return { direct: false, done: SETTLED };
    const bytes = Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
    if (opts.retain) this.noteRetained(topic, bytes);
    let direct = false;
    if (opts.direct !== undefined && opts.qos === 0) {
      const c = (aedes as unknown as { clients: Record<string, QClient | undefined> }).clients[opts.direct];
      const subs = c?.connected ? (c as unknown as { subscriptions?: Record<string, unknown> }).subscriptions : undefined;
      if (c && subs && Object.keys(subs).some((f) => filterMatches(f, topic))) {
        mqttPacket.writeToStream({ cmd: 'publish', topic, payload: bytes, qos: 0, retain: false, dup: false }, c.conn);
        this.sentDirect.set(bytes, c);
        direct = true;
      }
    }
    const done = new Promise<void>((resolve) => {
      aedes.publish(
        {
          cmd: 'publish',
          topic,
          payload: bytes,
          qos: opts.qos ?? 1,
          retain: opts.retain ?? false,
          dup: false,
        },
        (err) => {
          if (err) this.log.warn({ topic, err }, 'publish failed');
          resolve();
        },
      );
    });
    return { direct, done };
  }

  connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  async stop(): Promise<void> {
    this.closing = true;
    for (const u of this.unsubscribe.splice(0)) u();
    clearTimeout(this.clockTimer);
    await this.hubStatus('offline');
    this.failures.flush();
    for (const s of this.servers) s.close();
    this.wss?.close();
    const aedes = this.aedes;
    if (aedes) await new Promise<void>((r) => aedes.close(() => r()));
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => (s.listening ? s.close(() => r()) : r()))));
  }
}

const SETTLED = Promise.resolve();

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
