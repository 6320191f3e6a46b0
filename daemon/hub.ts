/**
 * The hub: its context and its modules, in the one list that says in which
 * order they start (and, reversed, stop). A new capability is a module added
 * here; nothing else needs to learn about it.
 */
import type { Logger } from 'pino';
import { describeChanges, planReload } from '../config/changes.js';
import type { ReloadResult } from '../contract/ports.js';

export type { ReloadResult };
import type { LoadedCenter } from '../config/load.js';
import { Backups } from './backup/module.js';
import { Core } from './core/core.js';
import { HallLog } from './hall-log.js';
import { DeviceHub } from './devices/hub.js';
import { Links } from './spine/links.js';
import { MqttBridge } from './forwarder/bridge.js';
import { BackendApi } from './forwarder/inbound.js';
import { WebhookForwarder } from './forwarder/webhook.js';
import { HttpModule } from './http/server.js';
import { Broker } from './mqtt/broker.js';
import { ReportsModule } from './reports/module.js';
import { Schedules } from './schedules/schedules.js';
import { Bus } from './spine/bus.js';
import type { HubContext, HubEvents } from './spine/context.js';
import { Modules, type HubModule } from './spine/module.js';
import { Announcer } from './voice/announcer.js';
import { runAction } from './api/actions.js';
import { ApiModule } from './api/module.js';
import { MetricsModule } from './metrics/module.js';
import { AlertsModule } from './alerts/module.js';
import { DeviceHealthModule } from './health/module.js';
import { FallbacksModule } from './fallbacks/module.js';
import { SelftestModule } from './selftest/module.js';
import { WiredTransport } from './wired/transport.js';
import { WebModule } from './web/module.js';

export interface HubOptions {
  center: Pick<LoadedCenter, 'config' | 'secrets'>;
  dataDir: string;
  log: Logger;
  version: string;
  /** The time source (tests). */
  clock?: () => number;
  /** Re-reads the config file and applies it (the process's reload: SIGHUP, `qhub reload`); offered to the API as `hub.reload`. */
  reload?: () => Promise<ReloadResult>;
  /** More modules, started after the built-in ones and before HTTP opens (tests, tools). */
  extra?: (ctx: HubContext) => HubModule[];
}

export interface Hub {
  ctx: HubContext;
  http: HttpModule;
  broker: Broker;
  devices: DeviceHub;
  api: ApiModule;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Takes a reloaded config (already loaded and checked): what can change
   * live changes in every module, without losing queue state or dropping
   * unchanged devices; keys marked RESTART keep their running values and are
   * named in the result.
   */
  applyConfig(next: Pick<LoadedCenter, 'config' | 'secrets'>): Promise<ReloadResult>;
}


export function createHub(o: HubOptions): Hub {
  const { config, secrets } = o.center;
  let core: Core | undefined;
  const bus = new Bus<HubEvents>({ log: o.log, yieldWhile: () => (core?.pending ?? 0) > 0 });
  const modules = new Modules(o.log);
  core = new Core({ config, dataDir: o.dataDir, log: o.log.child({ mod: 'core' }), bus, ...(o.clock ? { clock: o.clock } : {}) });
  const http = new HttpModule({ config, log: o.log, version: o.version, modules, bus });
  // The ports every module may be handed; the presence port is the device hub, made next.
  const ctx: HubContext = { config, secrets, log: o.log, version: o.version, dataDir: o.dataDir, core, bus, links: new Links(), modules, routes: http, presence: undefined!, actions: undefined! };
  const devices = new DeviceHub(ctx);
  // Presence as every other module reads it: the device hub's record with each device's health (kept across restarts).
  const deviceHealth = new DeviceHealthModule({ ...ctx, devices });
  ctx.presence = deviceHealth;
  const broker = new Broker(ctx, { http: http.server });
  // The order is the start order: state first, then the transports, then
  // what uses them; HTTP opens last, when everything it reports on runs.
  const f = config.forward;
  const forwarders = [...(f.webhook ? [new WebhookForwarder(ctx)] : []), ...(f.mqtt ? [new MqttBridge(ctx)] : []), ...(f.inbound ? [new BackendApi(ctx)] : [])];
  const isWired = (d: (typeof config.devices)[number]) => d.enabled && (d.transport.type === 'serial' || d.transport.type === 'firmata');
  const wired = config.devices.some(isWired) ? [new WiredTransport(ctx)] : [];
  // The web pages; also the `web` transport of the hall display pages, so it starts before the device hub.
  const web = new WebModule({ ...ctx, waiting: (s) => core.engine.waitingCount(s) });
  const alerts = new AlertsModule(ctx);
  const fallbacks = new FallbacksModule({ ...ctx, port: devices });
  const selftest = new SelftestModule({ ...ctx, refresh: (d) => devices.wantsState(d) });
  const reports = new ReportsModule(ctx);
  const backups = new Backups(ctx);
  const api = new ApiModule({ ...ctx, alerts: () => alerts.list(), fallbacks: () => fallbacks.list(), selftest: () => selftest.run('command'), reports, backup: (out) => backups.take(out), print: (t, id) => devices.print(t, id), reload: () => (o.reload ? o.reload() : Promise.resolve({ ok: false, summary: 'this hub cannot reload its config', waitForRestart: [] })) });
  // The backend's commands (HTTP and the upstream broker) go through the same table as people's.
  ctx.actions = (name, input, who) => runAction(name, input, who, api.ports);
  for (const m of [core, broker, ...wired, web, devices, deviceHealth, new Announcer(ctx), ...forwarders, new Schedules(ctx), alerts, fallbacks, selftest, reports, new MetricsModule(ctx), backups, new HallLog(ctx), api, ...(o.extra?.(ctx) ?? []), http]) modules.add(m);

  return {
    ctx,
    http,
    broker,
    devices,
    api,
    start: () => modules.start(),
    async applyConfig(next) {
      const { config: planned, changes } = planReload(ctx.config, ctx.secrets, next.config, next.secrets);
      if (!wired.length && planned.devices.some(isWired)) {
        // The wired transport is made at start only when a device needs it.
        changes.waitForRestart.push('devices (the first wired device: the wired transport starts with the hub)');
      }
      if (!changes.any) return { ok: true, summary: 'nothing changed', changes, waitForRestart: [] };
      // In place: modules hold these objects.
      ctx.config = planned;
      ctx.secrets.clear();
      for (const [k, v] of next.secrets) ctx.secrets.set(k, v);
      const failed = await modules.reload(planned, changes);
      const summary = describeChanges(changes);
      bus.emit('config.reloaded', { summary, waitForRestart: changes.waitForRestart });
      return { ok: failed.length === 0, summary, changes, waitForRestart: changes.waitForRestart, ...(failed.length ? { failed } : {}) };
    },
    async stop() {
      broker.closing = true; // refuse new requests at once, before the modules go down one by one
      await modules.stop();
    },
  };
}
