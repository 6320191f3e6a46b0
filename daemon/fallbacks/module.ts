/**
 * Module `fallbacks`: what the hub does by itself while a device is down,
 * and says so.
 *
 *   board down      calls go on by voice and on the window displays (they never
 *                   depended on the board: nothing to change, it is reported)
 *   speaker down    no speaker of a zone online: its boards flash a new call
 *                   `fallbacks.speakerDownFlashSeconds` (the board view's `flashSec`)
 *   dispenser down  a dispenser with `fallback: <other>` in the config: the
 *                   other one issues its services too, while it is online
 *   keypad down     the window is worked from the API (`qhub window N next`,
 *                   the web soft keypad): reported
 *
 * A device counts as down once it has been away `alerts.deviceOfflineSeconds`
 * (a reboot is not a fallback; at start, devices not back by then). Each
 * change is one journal line, "fallback applied: ..." or "fallback removed:
 * ...", and the list is in /health (`fallbacks`), `qhub status` and the API's
 * `status`.
 *
 * Owns: the active fallbacks. May touch: presence (read), the bus (listen to
 * presence), the fallback port of the device hub, the routes port (/health).
 */
import type { Logger } from 'pino';
import type { CenterConfig, DeviceConfig } from '../../config/schema.js';
import type { ActiveFallback, FallbackPort } from '../../contract/ports.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';

export class FallbacksModule implements HubModule {
  readonly name = 'fallbacks';
  private config: CenterConfig;
  private readonly log: Logger;
  private readonly active = new Map<string, ActiveFallback>();
  /** Per device: when it went away (monotonic ms); devices never seen count from the start. */
  private readonly away = new Map<string, number>();
  private readonly started = performance.now();
  private timer?: NodeJS.Timeout;
  private readonly unsubscribe: (() => void)[] = [];
  private applied = 0;

  constructor(private readonly ctx: Pick<HubContext, 'config' | 'bus' | 'presence' | 'routes' | 'log' | 'core'> & { port: FallbackPort }) {
    this.config = ctx.config;
    this.log = ctx.log.child({ mod: 'fallbacks' });
  }

  start(): void {
    this.ctx.routes.healthPart(() => ({ summary: { fallbacks: { active: this.active.size, list: this.list() } } }));
    this.unsubscribe.push(
      this.ctx.bus.on('device.offline', this.name, ({ device }) => {
        this.away.set(device.id, performance.now());
        this.schedule();
      }),
      this.ctx.bus.on('device.online', this.name, ({ device }) => {
        this.away.delete(device.id);
        this.check();
      }),
    );
    this.timer = setInterval(() => this.check(), 5_000);
    this.timer.unref();
    this.check();
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.soon);
    for (const u of this.unsubscribe.splice(0)) u();
  }

  reload(config: CenterConfig): void {
    this.config = config;
    this.check();
  }

  health(): ModuleHealth {
    return { ok: true, detail: { active: this.active.size, appliedSinceStart: this.applied } };
  }

  /** The fallbacks applied now. */
  list(): ActiveFallback[] {
    return [...this.active.values()];
  }

  private soon?: NodeJS.Timeout;
  /** A device left: look again once its grace has passed (not only on the 5 s timer). */
  private schedule(): void {
    clearTimeout(this.soon);
    this.soon = setTimeout(() => this.check(), this.config.alerts.deviceOfflineSeconds * 1000 + 50);
    this.soon.unref();
    this.check();
  }

  /** Works out which fallbacks should apply, applies and removes the difference. */
  check(): void {
    const c = this.config;
    const now = performance.now();
    const grace = c.alerts.deviceOfflineSeconds * 1000;
    const enabled = c.devices.filter((d) => d.enabled);
    const down = (d: DeviceConfig) => !this.ctx.presence.isOnline(d.id) && now - (this.away.get(d.id) ?? this.started) >= grace;
    const zoneOf = (d: DeviceConfig) => d.bind.zone ?? c.windows.find((w) => w.number === d.bind.window)?.zone ?? 'hall';
    const want = new Map<string, Omit<ActiveFallback, 'since'>>();
    const flash = new Map<string, number | undefined>();
    const covered = new Map<string, string[]>();
    for (const d of enabled) {
      if (!down(d)) continue;
      const key = `${d.kind}:${d.id}`;
      switch (d.kind) {
        case 'board': {
          const zone = zoneOf(d);
          const speakers = enabled.filter((x) => x.kind === 'speaker' && zoneOf(x) === zone && this.ctx.presence.isOnline(x.id)).map((x) => x.id);
          const windows = c.windows.filter((w) => (w.zone ?? 'hall') === zone).map((w) => w.number);
          const displays = enabled.filter((x) => x.kind === 'display' && x.bind.window !== undefined && windows.includes(x.bind.window) && this.ctx.presence.isOnline(x.id)).map((x) => x.id);
          want.set(key, { fallback: key, device: d.id, kind: d.kind, what: `calls in zone ${zone} go on by voice (${speakers.join(', ') || 'no speaker online'}) and on the window displays (${displays.join(', ') || 'none online'})` });
          break;
        }
        case 'speaker': {
          const zone = zoneOf(d);
          const others = enabled.filter((x) => x.kind === 'speaker' && x.id !== d.id && zoneOf(x) === zone && this.ctx.presence.isOnline(x.id));
          if (others.length) {
            want.set(key, { fallback: key, device: d.id, kind: d.kind, what: `zone ${zone} is announced by ${others.map((x) => x.id).join(', ')}` });
            break;
          }
          const s = c.fallbacks.speakerDownFlashSeconds;
          flash.set(zone, s);
          want.set(key, { fallback: key, device: d.id, kind: d.kind, what: `no speaker online in zone ${zone}: its boards flash a new call ${s} s` });
          break;
        }
        case 'dispenser': {
          const other = d.fallback ? enabled.find((x) => x.id === d.fallback && x.kind === 'dispenser') : undefined;
          if (!other) {
            want.set(key, { fallback: key, device: d.id, kind: d.kind, what: `no fallback dispenser configured: tickets of ${(d.bind.services ?? []).join(', ')} are issued from the API or the reception page` });
            break;
          }
          if (!this.ctx.presence.isOnline(other.id)) {
            want.set(key, { fallback: key, device: d.id, kind: d.kind, what: `its fallback ${other.id} is down too: tickets of ${(d.bind.services ?? []).join(', ')} are issued from the API or the reception page` });
            break;
          }
          const own = other.bind.services ?? [];
          const take = (d.bind.services ?? []).filter((s) => !own.includes(s) && !(covered.get(other.id) ?? []).includes(s));
          covered.set(other.id, [...(covered.get(other.id) ?? []), ...take]);
          want.set(key, { fallback: key, device: d.id, kind: d.kind, what: `${other.id} issues its services (${(d.bind.services ?? []).join(', ')})` });
          break;
        }
        case 'keypad':
          want.set(key, { fallback: key, device: d.id, kind: d.kind, what: `window ${d.bind.window} is worked from the API: qhub window ${d.bind.window} next, or the web keypad` });
          break;
        default:
          break;
      }
    }
    // The device hub's part first (what devices show and accept), then the report.
    const zones = new Set([...enabled.filter((d) => d.kind === 'board').map(zoneOf), ...flash.keys()]);
    for (const z of zones) this.ctx.port.setFlash(z, flash.get(z));
    for (const d of enabled) if (d.kind === 'dispenser') this.ctx.port.setCovered(d.id, covered.get(d.id) ?? []);
    const at = new Date(this.ctx.core.clock()).toISOString();
    for (const [key, w] of want) {
      const was = this.active.get(key);
      if (was?.what === w.what) continue;
      this.active.set(key, { ...w, since: was?.since ?? at });
      if (!was) this.applied++;
      if (was) this.log.info({ fallback: key, device: w.device }, `fallback changed: ${w.kind} ${w.device} down: ${w.what}`);
      else this.log.warn({ fallback: key, device: w.device }, `fallback applied: ${w.kind} ${w.device} down: ${w.what}`);
    }
    for (const [key, o] of this.active) {
      if (want.has(key)) continue;
      this.active.delete(key);
      this.log.info({ fallback: key, device: o.device }, `fallback removed: ${o.kind} ${o.device} is back`);
    }
  }
}
