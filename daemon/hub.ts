/**
 * The hub: its context and its modules, in the one list that says in which
 * order they start (and, reversed, stop). A new capability is a module added
 * here; nothing else needs to learn about it.
 */
import type { Logger } from 'pino';
import type { LoadedCenter } from '../config/load.js';
import { Backups } from './backup/module.js';
import { Core } from './core/core.js';
import { HallLog } from './hall-log.js';
import { DeviceHub } from './devices/hub.js';
import { Links } from './devices/link.js';
import { MqttBridge } from './forwarder/bridge.js';
import { BackendApi } from './forwarder/inbound.js';
import { WebhookForwarder } from './forwarder/webhook.js';
import { HttpModule } from './http/server.js';
import { Broker } from './mqtt/broker.js';
import { Schedules } from './schedules/schedules.js';
import { Bus } from './spine/bus.js';
import type { HubContext, HubEvents } from './spine/context.js';
import { Modules, type HubModule } from './spine/module.js';
import { Announcer } from './voice/announcer.js';
import { WiredTransport } from './wired/transport.js';

export interface HubOptions {
  center: Pick<LoadedCenter, 'config' | 'secrets'>;
  dataDir: string;
  log: Logger;
  version: string;
  /** The time source (tests). */
  clock?: () => number;
  /** More modules, started after the built-in ones and before HTTP opens (tests, tools). */
  extra?: (ctx: HubContext) => HubModule[];
}

export interface Hub {
  ctx: HubContext;
  http: HttpModule;
  broker: Broker;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createHub(o: HubOptions): Hub {
  const { config, secrets } = o.center;
  let core: Core | undefined;
  const bus = new Bus<HubEvents>({ log: o.log, yieldWhile: () => (core?.pending ?? 0) > 0 });
  const modules = new Modules(o.log);
  core = new Core({ config, dataDir: o.dataDir, log: o.log.child({ mod: 'core' }), bus, ...(o.clock ? { clock: o.clock } : {}) });
  const ctx: HubContext = { config, secrets, log: o.log, version: o.version, dataDir: o.dataDir, core, bus, links: new Links(), modules };

  const http = new HttpModule(ctx);
  const broker = new Broker(ctx, { http: http.server });
  // The order is the start order: state first, then the transports, then
  // what uses them; HTTP opens last, when everything it reports on runs.
  const f = config.forward;
  const forwarders = [...(f.webhook ? [new WebhookForwarder(ctx)] : []), ...(f.mqtt ? [new MqttBridge(ctx)] : []), ...(f.inbound ? [new BackendApi(ctx)] : [])];
  const wired = config.devices.some((d) => d.enabled && d.transport.type !== 'mqtt') ? [new WiredTransport(ctx)] : [];
  for (const m of [core, broker, ...wired, new DeviceHub(ctx), new Announcer(ctx), ...forwarders, new Schedules(ctx), new Backups(ctx), new HallLog(ctx), ...(o.extra?.(ctx) ?? []), http]) modules.add(m);

  return {
    ctx,
    http,
    broker,
    start: () => modules.start(),
    async stop() {
      broker.closing = true; // refuse new requests at once, before the modules go down one by one
      await modules.stop();
    },
  };
}
