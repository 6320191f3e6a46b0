/**
 * The webhook forwarder: sends the event log, in order, to the
 * request-tracking backend over HTTPS, in signed JSON batches, at least once.
 *
 * It reads the log from its own durable cursor (store cursor `webhook`) and
 * never sits on the command path: the bus only wakes it. The cursor moves
 * only after the backend answered 2xx; a failure (error status, timeout,
 * dropped connection, backend down) is retried with exponential backoff and
 * jitter, from the same event. Each event carries `key` = `<center id>:<seq>`
 * so the backend can drop the duplicates that at-least-once delivery implies
 * (a batch whose answer was lost is sent again).
 *
 * Signature: header `x-qhub-signature: sha256=<hex>` = HMAC-SHA256 with the
 * shared secret over `<x-qhub-timestamp>.<body>`; `x-qhub-timestamp` is the
 * hub's Unix time in seconds, so a receiver can refuse old replays. Every
 * attempt (a retry too) is signed anew with the time it is sent.
 *
 * The backend's clock: every answer's HTTP `Date` header tells how far the
 * hub's clock is from the backend's (a Pi that booted without network time
 * can be days off). While that is more than MAX_SKEW_S (the window receivers
 * are told to allow), nothing is sent: a strict receiver would refuse it all.
 * The hub's offset is followed with the monotonic clock, so forwarding
 * resumes as soon as NTP sets the clock; the backend is asked its time again
 * (HEAD, no body) every maxBackoffMs, at most every 30 s.
 *
 * After a failure with no HTTP answer at all (backend down, network away)
 * the hub asks `HEAD <url>` every PROBE_MS while it waits out the backoff:
 * any HTTP answer means the backend is back, and the batch goes at once.
 *
 * Owns: its cursor. May touch: the store (read, cursor), the bus (listens).
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';
import { WEBHOOK_SECRET } from '../../config/load.js';
import type { CenterConfig } from '../../config/schema.js';
import type { Store } from '../store/store.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';
import { Throttle } from '../spine/throttle.js';
import { backlog, Pump } from './cursor.js';

export const CURSOR = 'webhook';
/** The timestamp window receivers are told to allow (docs/EVENTS.md); the hub holds while its clock is further off than this. */
export const MAX_SKEW_S = 300;
/** While the backend gives no HTTP answer: how often a HEAD asks whether it is back. */
export const PROBE_MS = 2000;

/** A failure where the backend did answer (with an error status): the backoff applies, no probe. */
class HttpStatusError extends Error {}

type WebhookConfig = NonNullable<CenterConfig['forward']['webhook']>;

export function sign(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export class WebhookForwarder implements HubModule {
  readonly name = 'forwarder';
  private readonly cfg: WebhookConfig;
  private readonly store: Store;
  private readonly log: Logger;
  private secret = '';
  private ca?: Buffer;
  private readonly pump: Pump;
  private stopping = false;
  private failures = 0;
  private lastError?: string;
  private lastSentAt?: number;
  private delivered = 0;
  private unsubscribe?: () => void;
  private readonly errLog = new Throttle(60_000);
  /** The backend's clock from its last answer's `Date`, against the monotonic clock. */
  private clock?: { backendMs: number; mono: number };
  private held = false;
  private probeTimer?: NodeJS.Timeout;
  private probing = false;

  constructor(private readonly ctx: HubContext) {
    this.cfg = ctx.config.forward.webhook!;
    this.store = ctx.core.store;
    // Pruning waits for this cursor even while the module cannot start (no secret yet): nothing undelivered is lost.
    this.store.registerReader(CURSOR);
    this.log = ctx.log.child({ mod: 'forwarder' });
    this.pump = new Pump(() => this.pass(), () => this.store.isOpen && this.store.lastSeq > this.store.cursor(CURSOR), this.cfg.lingerMs);
  }

  start(): void {
    const secret = this.ctx.secrets.get(WEBHOOK_SECRET);
    if (!secret) throw new Error('forward.webhook.secret is not set (see the config warnings): events are kept and sent once it is');
    this.secret = secret;
    if (this.cfg.ca) this.ca = readFileSync(this.cfg.ca);
    this.unsubscribe = this.ctx.bus.on('committed', this.name, () => this.pump.wake());
    this.pump.wake(0);
  }

  stop(): void {
    this.stopping = true;
    this.pump.stop();
    clearTimeout(this.probeTimer);
    this.unsubscribe?.();
  }

  /** The hub's clock minus the backend's, in seconds (rounded); undefined before any answer. */
  skewS(): number | undefined {
    if (!this.clock) return undefined;
    const backendNow = this.clock.backendMs + (performance.now() - this.clock.mono);
    return Math.round((Date.now() - backendNow) / 1000);
  }

  private noteDate(date: string | undefined): void {
    const ms = date ? Date.parse(date) : NaN;
    // The header has whole seconds: the middle of that second is the better guess.
    if (Number.isFinite(ms)) this.clock = { backendMs: ms + 500, mono: performance.now() };
  }

  /** True while the hub's clock is too far from the backend's to send; logs the changes. */
  private clockHeld(): boolean {
    const skew = this.skewS();
    const held = skew !== undefined && Math.abs(skew) > MAX_SKEW_S;
    if (held && !this.held)
      this.log.warn(
        { skewS: skew, maxSkewS: MAX_SKEW_S },
        `the hub's clock is ${Math.abs(skew!)} s ${skew! > 0 ? 'ahead of' : 'behind'} the backend's (its HTTP Date): forwarding held until the clock is right (network time, NTP); events are kept`,
      );
    if (!held && this.held) this.log.info({ skewS: skew }, 'the hub\'s clock agrees with the backend\'s again: forwarding resumed');
    this.held = held;
    if (held && this.clock && performance.now() - this.clock.mono > Math.min(this.cfg.maxBackoffMs, 30_000)) void this.probe();
    return held;
  }

  /** One pass: sends batches until the log is drained (undefined) or a batch fails (the delay to retry after). */
  private async pass(): Promise<number | undefined> {
    for (;;) {
      if (this.stopping || !this.store.isOpen) return undefined;
      // Checked again each second: a clock set by NTP resumes forwarding within about a second.
      if (this.clockHeld()) return 1000;
      const cursor = this.store.cursor(CURSOR);
      const events = this.store.readAfter(cursor, this.cfg.batch);
      if (!events.length) return undefined;
      const center = this.ctx.config.center.id;
      const body = JSON.stringify({ hub: center, events: events.map((e) => ({ key: `${center}:${e.seq}`, ...e })) });
      try {
        await this.post(body);
      } catch (e) {
        return this.failed(e as Error, events[0]!.seq);
      }
      if (this.stopping || !this.store.isOpen) return undefined;
      this.store.setCursor(CURSOR, events[events.length - 1]!.seq);
      this.delivered += events.length;
      this.lastSentAt = Date.now();
      if (this.failures) this.log.info({ after: this.failures, seq: events[events.length - 1]!.seq }, 'backend reachable again: forwarding resumed');
      this.failures = 0;
      clearTimeout(this.probeTimer);
      this.probeTimer = undefined;
      this.lastError = undefined;
    }
  }

  /** Notes a failed batch; returns when to try again. */
  private failed(e: Error, fromSeq: number): number {
    this.failures++;
    this.lastError = e.message;
    const base = Math.min(this.cfg.maxBackoffMs, 1000 * 2 ** Math.min(this.failures - 1, 20));
    const delay = Math.round(base * (0.5 + Math.random() / 2)); // jitter: many hubs do not retry in step
    const t = this.errLog.pass('send');
    if (t.ok)
      this.log.warn({ err: e.message, fromSeq, failures: this.failures, retryInMs: delay, ...(t.held ? { more: t.held } : {}) }, 'could not forward events to the backend: they are kept and retried');
    // No HTTP answer at all: ask cheaply whether it is back, so a long backoff does not outlast the outage.
    if (!(e instanceof HttpStatusError) && delay > PROBE_MS) this.scheduleProbe();
    return delay;
  }

  private scheduleProbe(): void {
    clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      void this.probe().then((answered) => {
        if (this.stopping) return;
        if (answered) this.pump.now();
        else this.scheduleProbe();
      });
    }, PROBE_MS);
    this.probeTimer.unref();
  }

  /** `HEAD <url>`, unsigned, no body: true when the backend gave any HTTP answer (its Date is noted). */
  private probe(): Promise<boolean> {
    if (this.probing) return Promise.resolve(false);
    this.probing = true;
    const url = new URL(this.cfg.url);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<boolean>((resolve) => {
      const req = request(url, { method: 'HEAD', timeout: Math.min(this.cfg.timeoutMs, PROBE_MS), ...(this.ca ? { ca: this.ca } : {}) }, (res) => {
        this.noteDate(res.headers.date);
        res.resume();
        resolve(true);
      });
      req.on('timeout', () => req.destroy(new Error('probe timed out')));
      req.on('error', () => resolve(false));
      req.end();
    }).finally(() => {
      this.probing = false;
    });
  }

  private post(body: string): Promise<void> {
    const url = new URL(this.cfg.url);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'content-length': Buffer.byteLength(body),
            'x-qhub-timestamp': timestamp,
            'x-qhub-signature': sign(this.secret, timestamp, body),
          },
          timeout: this.cfg.timeoutMs,
          ...(this.ca ? { ca: this.ca } : {}),
        },
        (res) => {
          this.noteDate(res.headers.date);
          res.resume();
          res.on('end', () => {
            const code = res.statusCode ?? 0;
            if (code >= 200 && code < 300) resolve();
            else reject(new HttpStatusError(`backend answered HTTP ${code}`));
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.cfg.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  health(): ModuleHealth {
    const b = backlog(this.store, CURSOR, this.ctx.config.forward.alert);
    const skew = this.skewS();
    return {
      ok: b.ok && !this.held,
      summary: { forward: { backlog: b.backlog, oldestMinutes: b.oldestMinutes, ...(skew !== undefined ? { clockSkewS: skew } : {}), ...(this.held ? { heldForClock: true } : {}) } },
      detail: { cursor: b.cursor, delivered: this.delivered, failures: this.failures, ...(this.lastError ? { lastError: this.lastError } : {}), ...(this.lastSentAt ? { lastSentAt: new Date(this.lastSentAt).toISOString() } : {}) },
    };
  }
}
