/**
 * Module `metrics`: `GET /metrics` in the Prometheus text format
 * (prom-client), for a center's own Prometheus or a governorate's that
 * scrapes or federates every hub. Names follow Prometheus conventions:
 * `qhub_` prefix, base units (seconds), `_total` counters, no ticket ids in
 * labels. docs/OPERATIONS.md lists them; docs/grafana/ has dashboards.
 *
 * Gauges are read from the engine, the presence port and the store when
 * Prometheus scrapes; counters and histograms follow the bus (`committed`)
 * and the core's group commits.
 *
 * Owns: its registry. May touch: the routes port (GET /metrics), the bus
 * (listen), the core (read; commit durations), presence (read).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Counter, Histogram, Registry } from 'prom-client';
import type { CenterConfig } from '../../config/schema.js';
import type { StoredEvent } from '../../contract/queue.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';

/** Wait buckets in seconds: every service's target wait is one of them (service level = share under the target). */
export function waitBuckets(config: CenterConfig): number[] {
  const base = [60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200];
  const targets = config.services.map((s) => Math.round(((s as { targetWaitMinutes?: number }).targetWaitMinutes ?? 15) * 60));
  return [...new Set([...base, ...targets])].sort((a, b) => a - b);
}

export class MetricsModule implements HubModule {
  readonly name = 'metrics';
  private registry?: Registry;
  private config: CenterConfig;
  private readonly unsubscribe: (() => void)[] = [];
  private scrapes = 0;
  private loop?: IntervalHistogram;
  private lastScrapeMs = 0;
  private m?: {
    issued: Counter<'service'>;
    calls: Counter<'window'>;
    served: Counter<'service'>;
    noShows: Counter<'service'>;
    cancelled: Counter<'service'>;
    wait: Histogram<'service'>;
    service: Histogram<'service'>;
    commit: Histogram;
    commands: Counter;
  };

  constructor(private readonly ctx: Pick<HubContext, 'config' | 'core' | 'bus' | 'routes' | 'presence' | 'modules' | 'version'>) {
    this.config = ctx.config;
  }

  /** Events and commits seen before prom-client was loaded (at most about a second of them), replayed into the counters. */
  private early?: { events: StoredEvent[][]; commits: [number, number][] } = { events: [], commits: [] };
  private ready?: Promise<Registry>;
  private loadTimer?: NodeJS.Timeout;

  /**
   * prom-client is loaded a second after start or at the first scrape,
   * whichever comes first, not in the start path (it was about a tenth of
   * the daemon's start-up); what happens meanwhile is counted then.
   */
  start(): void {
    this.unsubscribe.push(this.ctx.bus.on('committed', this.name, ({ events }) => void (this.m ? this.count(events) : this.early?.events.push(events))));
    this.ctx.core.onCommit((ms, n) => {
      if (!this.m) return void this.early?.commits.push([ms, n]);
      this.m.commit.observe(ms / 1000);
      this.m.commands.inc(n);
    });
    this.ctx.routes.route('GET', '/metrics', async () => {
      const registry = await this.load();
      const t0 = performance.now();
      const text = await registry.metrics();
      this.scrapes++;
      this.lastScrapeMs = performance.now() - t0;
      return { code: 200, bytes: Buffer.from(text), type: registry.contentType, cache: 'no-store' };
    });
    this.loadTimer = setTimeout(() => void this.load().catch(() => undefined), 1000);
    this.loadTimer.unref?.();
  }

  private load(): Promise<Registry> {
    return (this.ready ??= this.build());
  }

  private async build(): Promise<Registry> {
    // The default export (module.exports): also what a bundled chunk of this CommonJS package offers (daemon/bundle.mjs).
    const { default: client } = await import('prom-client');
    const registry = new client.Registry();
    this.registry = registry;
    // The process, under the names every Prometheus exporter uses (prom-client's default set is not used:
    // some of its gauges end in _total, which promtool refuses).
    const loop = monitorEventLoopDelay({ resolution: 20 });
    loop.enable();
    this.loop = loop;
    new client.Gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes', registers: [registry], collect() { this.set(process.memoryUsage().rss); } });
    new client.Gauge({ name: 'process_start_time_seconds', help: 'Start time of the process since the Unix epoch in seconds', registers: [registry], collect() { this.set(Math.round(Date.now() / 1000 - process.uptime())); } });
    new client.Counter({ name: 'process_cpu_seconds_total', help: 'User and system CPU time spent in seconds', registers: [registry], collect() { const u = process.cpuUsage(); this.reset(); this.inc((u.user + u.system) / 1e6); } });
    new client.Gauge({ name: 'nodejs_heap_used_bytes', help: 'V8 heap in use, in bytes', registers: [registry], collect() { this.set(process.memoryUsage().heapUsed); } });
    new client.Gauge({
      name: 'nodejs_eventloop_delay_p99_seconds',
      help: '99th percentile of the event loop delay since the last scrape, in seconds (a stuck hub shows here first)',
      registers: [registry],
      collect() {
        this.set(loop.percentile(99) / 1e9);
        loop.reset();
      },
    });
    const core = this.ctx.core;
    const reg = [registry];
    const services = () => this.config.services.map((s) => s.id);

    new client.Gauge({
      name: 'qhub_info',
      help: 'The hub: version and center (value 1)',
      labelNames: ['version', 'center'],
      registers: reg,
      collect() {
        this.reset();
        this.set({ version: ctx.version, center: ctx.config.center.id }, 1);
      },
    });
    const ctx = this.ctx;
    const self = this;
    new client.Gauge({
      name: 'qhub_queue_waiting',
      help: 'Citizens waiting, per service',
      labelNames: ['service'],
      registers: reg,
      collect() {
        for (const s of services()) this.set({ service: s }, core.engine.waitingCount(s));
      },
    });
    new client.Gauge({
      name: 'qhub_queue_oldest_wait_seconds',
      help: 'How long the longest waiting citizen has waited, per service (0 when nobody waits)',
      labelNames: ['service'],
      registers: reg,
      collect() {
        const now = core.clock();
        for (const s of services()) {
          const oldest = core.engine.waiting(s).reduce((m, t) => Math.min(m, t.enqueuedAt), Infinity);
          this.set({ service: s }, oldest === Infinity ? 0 : Math.max(0, (now - oldest) / 1000));
        }
      },
    });
    new client.Gauge({
      name: 'qhub_window_open',
      help: 'Window state: 1 open, 0.5 paused, 0 closed',
      labelNames: ['window'],
      registers: reg,
      collect() {
        this.reset();
        for (const w of self.config.windows) {
          const st = core.engine.window(w.number).status;
          this.set({ window: String(w.number) }, st === 'open' ? 1 : st === 'paused' ? 0.5 : 0);
        }
      },
    });
    new client.Gauge({
      name: 'qhub_devices',
      help: 'Configured devices by kind and state (up: online now)',
      labelNames: ['kind', 'state'],
      registers: reg,
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const d of ctx.presence.list()) {
          const k = `${d.kind}|${d.online ? 'up' : 'down'}`;
          counts.set(k, (counts.get(k) ?? 0) + 1);
        }
        for (const kind of ['dispenser', 'keypad', 'board', 'display', 'speaker'])
          for (const state of ['up', 'down']) this.set({ kind, state }, counts.get(`${kind}|${state}`) ?? 0);
      },
    });
    new client.Gauge({
      name: 'qhub_device_up',
      help: 'Whether each device is online (1) or not (0)',
      labelNames: ['device', 'kind'],
      registers: reg,
      collect() {
        this.reset();
        for (const d of ctx.presence.list()) this.set({ device: d.id, kind: d.kind }, d.online ? 1 : 0);
      },
    });
    new client.Gauge({
      name: 'qhub_device_last_change_timestamp_seconds',
      help: 'When each device last came online or went offline (Unix time; absent for a device not seen since start)',
      labelNames: ['device', 'kind'],
      registers: reg,
      collect() {
        this.reset();
        for (const d of ctx.presence.list()) {
          const at = d.online ? d.since : d.offlineSince;
          if (at) this.set({ device: d.id, kind: d.kind }, Date.parse(at) / 1000);
        }
      },
    });
    new client.Gauge({
      name: 'qhub_event_log_seq',
      help: 'The last event number in the hub’s log',
      registers: reg,
      collect() {
        this.set(core.store.isOpen ? core.store.lastSeq : 0);
      },
    });
    new client.Gauge({
      name: 'qhub_forward_backlog_events',
      help: 'Events not yet delivered, per reader of the log (webhook, mqtt-bridge)',
      labelNames: ['reader'],
      registers: reg,
      collect() {
        this.reset();
        if (!core.store.isOpen) return;
        for (const r of core.store.readers()) this.set({ reader: r }, Math.max(0, core.store.lastSeq - core.store.cursor(r)));
      },
    });
    new client.Gauge({
      name: 'qhub_forward_oldest_seconds',
      help: 'Age of the oldest undelivered event, per reader of the log (0 when none)',
      labelNames: ['reader'],
      registers: reg,
      collect() {
        this.reset();
        if (!core.store.isOpen) return;
        for (const r of core.store.readers()) {
          const first = core.store.readAfter(core.store.cursor(r), 1)[0];
          this.set({ reader: r }, first ? Math.max(0, (Date.now() - first.at) / 1000) : 0);
        }
      },
    });
    new client.Gauge({
      name: 'qhub_modules_ok',
      help: 'Modules running well (1) or not (0), from /health',
      labelNames: ['module'],
      registers: reg,
      collect() {
        this.reset();
        for (const m of ctx.modules.report()) this.set({ module: m.name }, m.ok ? 1 : 0);
      },
    });

    const buckets = waitBuckets(this.config);
    this.m = {
      issued: new client.Counter({ name: 'qhub_tickets_issued_total', help: 'Tickets issued, per service', labelNames: ['service'], registers: reg }),
      calls: new client.Counter({ name: 'qhub_calls_total', help: 'Citizens called (first calls and recalls), per window', labelNames: ['window'], registers: reg }),
      served: new client.Counter({ name: 'qhub_tickets_served_total', help: 'Visits finished at a window, per service', labelNames: ['service'], registers: reg }),
      noShows: new client.Counter({ name: 'qhub_tickets_no_show_total', help: 'Citizens called who did not come, per service', labelNames: ['service'], registers: reg }),
      cancelled: new client.Counter({ name: 'qhub_tickets_cancelled_total', help: 'Tickets cancelled (by staff or at the day’s close), per service', labelNames: ['service'], registers: reg }),
      wait: new client.Histogram({ name: 'qhub_wait_seconds', help: 'Time from joining a queue to being called, per service; the buckets include each service’s target wait', labelNames: ['service'], buckets, registers: reg }),
      service: new client.Histogram({ name: 'qhub_service_seconds', help: 'Time from the call (or start) to done, per service', labelNames: ['service'], buckets: [60, 180, 300, 600, 900, 1200, 1800, 3600], registers: reg }),
      commit: new client.Histogram({ name: 'qhub_store_commit_seconds', help: 'One group commit to SQLite (synchronous=FULL), from the first decision to the fsync', buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: reg }),
      commands: new client.Counter({ name: 'qhub_commands_total', help: 'Commands and facts committed (each group commit adds its size)', registers: reg }),
    };
    // Counters start from zero at each start of the hub (Prometheus handles the reset with rate()).
    const early = this.early;
    this.early = undefined;
    for (const [ms, n] of early?.commits ?? []) {
      this.m.commit.observe(ms / 1000);
      this.m.commands.inc(n);
    }
    for (const events of early?.events ?? []) this.count(events);
    return registry;
  }

  private count(events: StoredEvent[]): void {
    const m = this.m!;
    for (const e of events) {
      switch (e.type) {
        case 'ticket.issued':
          if (e.n > 0) m.issued.inc({ service: e.service });
          break;
        case 'ticket.called':
          m.calls.inc({ window: String(e.window) });
          if (e.how !== 'resume') m.wait.observe({ service: e.service }, e.waitMs / 1000);
          break;
        case 'ticket.recalled':
          m.calls.inc({ window: String(e.window) });
          break;
        case 'ticket.done':
          if (e.reason !== 'rollover') {
            m.served.inc({ service: e.service });
            m.service.observe({ service: e.service }, e.serviceMs / 1000);
          }
          break;
        case 'ticket.noShow':
          m.noShows.inc({ service: e.service });
          break;
        case 'ticket.cancelled':
          m.cancelled.inc({ service: e.service });
          break;
      }
    }
  }

  reload(config: CenterConfig): void {
    this.config = config;
  }

  health(): ModuleHealth {
    return { ok: true, detail: { scrapes: this.scrapes, lastScrapeMs: Math.round(this.lastScrapeMs * 10) / 10 } };
  }

  stop(): void {
    clearTimeout(this.loadTimer);
    for (const u of this.unsubscribe.splice(0)) u();
    this.registry?.clear();
    this.loop?.disable();
  }
}
