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
 * hub's Unix time in seconds, so a receiver can refuse old replays.
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
    this.unsubscribe?.();
  }

  /** One pass: sends batches until the log is drained (undefined) or a batch fails (the delay to retry after). */
  private async pass(): Promise<number | undefined> {
    for (;;) {
      if (this.stopping || !this.store.isOpen) return undefined;
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
    return delay;
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
          res.resume();
          res.on('end', () => {
            const code = res.statusCode ?? 0;
            if (code >= 200 && code < 300) resolve();
            else reject(new Error(`backend answered HTTP ${code}`));
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
    return {
      ok: b.ok,
      summary: { forward: { backlog: b.backlog, oldestMinutes: b.oldestMinutes } },
      detail: { cursor: b.cursor, delivered: this.delivered, failures: this.failures, ...(this.lastError ? { lastError: this.lastError } : {}), ...(this.lastSentAt ? { lastSentAt: new Date(this.lastSentAt).toISOString() } : {}) },
    };
  }
}
