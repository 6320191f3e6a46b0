/**
 * The device hub: turns device requests into engine commands, and committed
 * events into what devices show and say. It only talks to devices through
 * the broker; wired devices will reach it through the same two entry points
 * (`request` and the views) via their drivers.
 */
import type { Logger } from 'pino';
import type { CenterConfig, DeviceConfig } from '../config/schema.js';
import { modelOf } from '../devices/models.js';
import type { Broker } from './broker.js';
import type { Core, CoreResult } from './core.js';
import type { Command, StoredEvent } from './engine/types.js';
import { describeIssues, devTopic, KEYPAD_COMMANDS, KeypadCommand, Press, PROTOCOL_VERSION, type ProtocolErrorCode } from './protocol.js';
import { announcement, boardView, keypadView, RecentCalls, ticketView, windowView, type View } from './views.js';

export interface DeviceHubOptions {
  config: CenterConfig;
  core: Core;
  broker: Broker;
  log: Logger;
}

export class DeviceHub {
  private recent: RecentCalls;
  private readonly lastSent = new Map<string, string>();
  private readonly lastCallSeq = new Map<number, number>();
  /** The keypad command being answered: its screen carries the command id, whoever sends it. */
  private replying?: { device: string; re: string | undefined; sent: boolean };
  private readonly devices: DeviceConfig[];
  private readonly onCommitted = (events: StoredEvent[]) => this.committed(events);

  constructor(private readonly opts: DeviceHubOptions) {
    this.recent = new RecentCalls(opts.config);
    this.devices = opts.config.devices.filter((d) => d.enabled);
  }

  start(): void {
    const { core, broker } = this.opts;
    const day = core.engine.state.day;
    if (day) for (const e of core.store.eventsOfDay(day)) this.track(e);
    core.on('committed', this.onCommitted);
    broker.on('subscribed', (d) => this.republish(d));
    this.refresh(true);
  }

  stop(): void {
    this.opts.core.off('committed', this.onCommitted);
  }

  private log(d: DeviceConfig): Logger {
    return this.opts.log.child({ device: d.id });
  }

  // ------------------------------------------------------------ requests

  /** A request from a device (already authenticated and allowed on this topic). */
  request(d: DeviceConfig, leaf: string, payload: Buffer): void {
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(payload.toString('utf8'));
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      this.log(d).warn({ leaf, bytes: payload.length }, 'malformed JSON from device');
      return this.error(d, undefined, 'bad_json', 'the payload must be a JSON object');
    }
    const re = typeof body.id === 'string' ? body.id.slice(0, 64) : undefined;
    if (body.v !== undefined && body.v !== PROTOCOL_VERSION) return this.error(d, re, 'unsupported_version');
    if (leaf === 'press') return this.press(d, body, re);
    if (leaf === 'cmd') return this.command(d, body, re);
    if (leaf === 'played') return; // the voice issue uses this to pace announcements
  }

  private error(d: DeviceConfig, re: string | undefined, code: ProtocolErrorCode, message?: string): void {
    this.log(d).info({ re, code, message }, 'request refused');
    this.opts.broker.sendError(d.id, re, code, message);
  }

  private fail(d: DeviceConfig, re: string | undefined, r: CoreResult & { ok: false }): void {
    this.error(d, re, r.error.code, r.error.message);
  }

  private press(d: DeviceConfig, body: Record<string, unknown>, re: string | undefined): void {
    const p = Press.safeParse(body);
    if (!p.success) return this.error(d, re, 'bad_payload', describeIssues(p.error));
    const bound = d.bind.services ?? [];
    const service = p.data.service ?? bound[p.data.button! - 1];
    if (!service || !bound.includes(service))
      return this.error(d, re, 'not_bound', p.data.service ? `this dispenser does not issue "${p.data.service}"` : `button ${p.data.button} has no service (this dispenser has ${bound.length})`);
    const r = this.opts.core.execute({ type: 'issue', service, ...(p.data.priority ? { priority: p.data.priority } : {}), source: d.id, id: p.data.id });
    if (!r.ok) return this.fail(d, re, r);
    if (!r.ticket) return this.error(d, re, 'unknown_ticket', 'the ticket of this press is no longer known');
    this.log(d).info({ re, ticket: r.ticket.number, duplicate: r.duplicate }, r.duplicate ? 'repeated press: same ticket sent again' : 'ticket issued');
    void this.opts.broker.publish(devTopic(d.id, 'ticket'), { v: PROTOCOL_VERSION, re, duplicate: r.duplicate, ticket: ticketView(this.opts.config, r.ticket) });
  }

  private command(d: DeviceConfig, body: Record<string, unknown>, re: string | undefined): void {
    if (typeof body.cmd !== 'string' || !(KEYPAD_COMMANDS as string[]).includes(body.cmd))
      return this.error(d, re, 'unknown_command', `"cmd" must be one of ${KEYPAD_COMMANDS.join(', ')}`);
    const c = KeypadCommand.safeParse(body);
    if (!c.success) return this.error(d, re, 'bad_payload', describeIssues(c.error));
    const window = d.bind.window;
    if (window === undefined) return this.error(d, re, 'not_bound', 'this keypad is not bound to a window');
    if (c.data.window !== undefined && c.data.window !== window) return this.error(d, re, 'forbidden', `this keypad belongs to window ${window}`);
    const k = c.data;
    const ref = { source: d.id, id: k.id };
    let cmd: Command | undefined;
    switch (k.cmd) {
      case 'next': cmd = { type: 'next', window, ...ref }; break;
      case 'recall': cmd = { type: 'recall', window, ...ref }; break;
      case 'start': cmd = { type: 'start', window, ...ref }; break;
      case 'done': cmd = { type: 'finish', window, ...ref }; break;
      case 'noShow': cmd = { type: 'noShow', window, ...ref }; break;
      case 'return': cmd = { type: 'returnNoShow', ticket: k.ticket, ...ref }; break;
      case 'transfer': cmd = { type: 'transfer', window, service: k.service, ...(k.position ? { position: k.position } : {}), ...ref }; break;
      case 'park': cmd = { type: 'park', window, ...ref }; break;
      case 'resume': cmd = { type: 'resume', window, ticket: k.ticket, ...ref }; break;
      case 'call': cmd = { type: 'callTicket', window, ticket: k.ticket, ...ref }; break;
      case 'callInquiry': cmd = { type: 'callInquiry', window, inquiry: k.inquiry, ...ref }; break;
      case 'open': cmd = { type: 'open', window, ...ref }; break;
      case 'pause': cmd = { type: 'pause', window, reason: k.reason ?? 'break', ...ref }; break;
      case 'close': cmd = { type: 'close', window, ...ref }; break;
      case 'screen': cmd = undefined; break;
    }
    const replying = (this.replying = { device: d.id, re, sent: false });
    try {
      if (cmd) {
        const r = this.opts.core.execute(cmd); // committed → refresh() sends the changed screen with `re`
        if (!r.ok) return this.fail(d, re, r);
        this.log(d).info({ re, cmd: k.cmd, ticket: r.ticket?.number, duplicate: r.duplicate }, 'keypad command');
      }
      if (!replying.sent) this.send(d, 'screen', keypadView(this.opts.core.engine, window), { force: true });
    } finally {
      this.replying = undefined;
    }
  }

  // ------------------------------------------------------------ outputs

  private track(e: StoredEvent) {
    if (e.type === 'day.rolled') this.lastCallSeq.clear();
    const call = this.recent.add(e);
    if (call) this.lastCallSeq.set(call.w, call.seq);
    return call;
  }

  private committed(events: StoredEvent[]): void {
    for (const e of events) {
      const call = this.track(e);
      if (!call) continue;
      for (const d of this.devices) {
        if (d.kind !== 'speaker') continue;
        if (d.bind.zone !== undefined ? d.bind.zone !== call.zone : d.bind.window !== call.w) continue;
        const langs = (modelOf(d).languages ?? ['ar']).filter((l) => this.opts.config.center.languages.includes(l));
        void this.opts.broker.publish(devTopic(d.id, 'announce'), announcement(call, langs));
      }
    }
    this.refresh(false);
  }

  private view(d: DeviceConfig): { leaf: string; view: View } | undefined {
    const { config, core } = this.opts;
    switch (d.kind) {
      case 'board':
        return { leaf: 'display', view: boardView(config, core.engine, this.recent, d) };
      case 'display':
        return d.bind.window === undefined ? undefined : { leaf: 'display', view: windowView(core.engine, d.bind.window, this.lastCallSeq.get(d.bind.window)) };
      case 'keypad':
        return d.bind.window === undefined ? undefined : { leaf: 'screen', view: keypadView(core.engine, d.bind.window) };
      default:
        return undefined;
    }
  }

  /** Sends every device view that changed (all of them when `force`). Retained, so a device that reconnects gets it at once. */
  refresh(force: boolean): void {
    for (const d of this.devices) {
      const v = this.view(d);
      if (v) this.send(d, v.leaf, v.view, { force });
    }
  }

  private send(d: DeviceConfig, leaf: string, view: View, o: { force: boolean }): void {
    const key = JSON.stringify(view);
    if (!o.force && this.lastSent.get(d.id) === key) return;
    this.lastSent.set(d.id, key);
    let re: string | undefined;
    if (this.replying?.device === d.id) {
      re = this.replying.re;
      this.replying.sent = true;
    }
    void this.opts.broker.publish(devTopic(d.id, leaf), { ...view, rev: this.opts.core.store.lastSeq, ...(re ? { re } : {}) }, { retain: true });
  }

  /** A device (re)connected or subscribed: send it its state again. */
  republish(d: DeviceConfig): void {
    const v = this.view(d);
    if (v) this.send(d, v.leaf, v.view, { force: true });
  }
}
