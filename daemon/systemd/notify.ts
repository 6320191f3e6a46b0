/**
 * systemd's service notification protocol (sd_notify): READY=1 once the
 * broker and HTTP listen, STATUS= a line `systemctl status qhub` shows,
 * WATCHDOG=1 from a timer on the event loop (a loop that stops turning stops
 * the pings, and systemd restarts the hub after WatchdogSec), STOPPING=1 at
 * shutdown.
 *
 * Without NOTIFY_SOCKET (a terminal, a test, another supervisor) it does
 * nothing and loads nothing. Node has no AF_UNIX datagram sockets, so the
 * native `unix-dgram` package sends them; it is loaded only when
 * NOTIFY_SOCKET is set, and a hub whose copy cannot load runs on (logged:
 * under Type=notify systemd then gives up waiting for READY after
 * TimeoutStartSec, which names the cause in the journal).
 *
 * Owns: one datagram socket and two timers. May touch: nothing else; the
 * status figures come from the function it is given.
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';

interface DgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error) => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
  close(): void;
}

export interface NotifyOptions {
  log: Logger;
  /** The text of STATUS= (e.g. "12 of 14 devices online, 34 waiting"); asked again every `statusEveryMs`. */
  status?: () => string;
  statusEveryMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** How often the status line is refreshed. */
const STATUS_EVERY_MS = 10_000;

/**
 * The socket address systemd gave: a path, or an abstract name written with
 * a leading '@' (sd_notify(3)), which on the wire starts with a NUL byte.
 */
export function notifyAddress(env: NodeJS.ProcessEnv): { path: string; abstract: boolean } | undefined {
  const s = env.NOTIFY_SOCKET;
  if (!s) return undefined;
  return s.startsWith('@') ? { path: `\0${s.slice(1)}`, abstract: true } : { path: s, abstract: false };
}

/** Half the watchdog timeout, as sd_watchdog_enabled(3) advises; undefined when the watchdog is off or meant for another process. */
export function watchdogInterval(env: NodeJS.ProcessEnv, pid = process.pid): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 1000 / 2));
}

export class SystemdNotifier {
  private socket?: DgramSocket;
  private address?: { path: string; abstract: boolean };
  private timers: NodeJS.Timeout[] = [];
  private lastStatus?: string;
  private readonly log: Logger;
  private readonly env: NodeJS.ProcessEnv;
  private failures = 0;

  constructor(private readonly opts: NotifyOptions) {
    this.log = opts.log.child({ mod: 'systemd' });
    this.env = opts.env ?? process.env;
  }

  /** Whether notifications are being sent (NOTIFY_SOCKET set and the socket module loaded). */
  get active(): boolean {
    return this.socket !== undefined;
  }

  /** Opens the socket when systemd asked for notifications. Never throws. */
  start(): void {
    this.address = notifyAddress(this.env);
    if (!this.address) return;
    if (this.address.abstract) {
      // unix-dgram copies the address with strncpy: a name starting with NUL cannot be given to it.
      this.log.error(
        { notifySocket: this.env.NOTIFY_SOCKET },
        'NOTIFY_SOCKET is an abstract socket, which this hub cannot reach (its unix-dgram module takes only socket paths): no READY, STATUS or WATCHDOG will be sent. systemd itself gives services a path (/run/systemd/notify); under another supervisor use Type=simple',
      );
      return;
    }
    try {
      const require = createRequire(import.meta.url);
      const { createSocket } = require('unix-dgram') as { createSocket(type: 'unix_dgram'): DgramSocket };
      this.socket = createSocket('unix_dgram');
      this.socket.on('error', (e) => this.failed(e));
    } catch (e) {
      this.log.error(
        { err: e, notifySocket: this.env.NOTIFY_SOCKET },
        'NOTIFY_SOCKET is set but the unix-dgram module cannot be loaded, so systemd will not hear READY or the watchdog (reinstall with "npm ci --omit=dev" in /opt/qhub, which needs python3, make and g++; or set Type=simple in the unit)',
      );
    }
  }

  /** READY=1 with the first status line; starts the watchdog pings and the status refresh. */
  ready(): void {
    if (!this.socket) return;
    const status = this.statusText();
    this.send(`READY=1${status ? `\nSTATUS=${status}` : ''}`);
    this.lastStatus = status;
    const every = watchdogInterval(this.env);
    if (every !== undefined) {
      // A plain timer on the event loop: if the loop is blocked, the pings stop and systemd restarts the hub.
      this.timers.push(setInterval(() => this.send('WATCHDOG=1'), every).unref());
      this.log.info({ everyMs: every }, 'systemd watchdog: pinging');
    }
    if (this.opts.status) this.timers.push(setInterval(() => this.refreshStatus(), this.opts.statusEveryMs ?? STATUS_EVERY_MS).unref());
    this.log.info({ notifySocket: this.env.NOTIFY_SOCKET }, 'told systemd: ready');
  }

  /** Any other state line (e.g. RELOADING=1). */
  notify(state: string): void {
    if (this.socket) this.send(state);
  }

  /**
   * RELOADING=1 at the start of a config reload, with the CLOCK_MONOTONIC
   * time in µs (sd_notify(3): MONOTONIC_USEC, which Type=notify-reload
   * requires and ExecReload units accept); READY=1 follows when it ends,
   * applied or refused (`reloaded`). Node's hrtime is CLOCK_MONOTONIC on Linux.
   */
  reloading(): void {
    if (!this.socket) return;
    this.send(`RELOADING=1\nMONOTONIC_USEC=${process.hrtime.bigint() / 1000n}\nSTATUS=reloading the config`);
  }

  /** READY=1 after a reload, with the status line again. */
  reloaded(): void {
    if (!this.socket) return;
    const status = this.statusText();
    this.send(`READY=1${status ? `\nSTATUS=${status}` : ''}`);
    this.lastStatus = status;
  }

  /** STOPPING=1: the pings stop, systemd waits for the exit (TimeoutStopSec). */
  stopping(): void {
    if (!this.socket) return;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.send('STOPPING=1\nSTATUS=stopping');
  }

  /** Closes the socket (after STOPPING, when the hub is down). */
  close(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    try {
      this.socket?.close();
    } catch {
      /* already closed */
    }
    this.socket = undefined;
  }

  private statusText(): string | undefined {
    if (!this.opts.status) return undefined;
    try {
      return this.opts.status().replace(/\n/g, ' ');
    } catch (e) {
      this.log.debug({ err: e }, 'status text failed');
      return undefined;
    }
  }

  private refreshStatus(): void {
    const s = this.statusText();
    if (s === undefined || s === this.lastStatus) return;
    this.lastStatus = s;
    this.send(`STATUS=${s}`);
  }

  private send(state: string): void {
    const buf = Buffer.from(state);
    try {
      this.socket?.send(buf, 0, buf.length, this.address!.path, (err) => (err ? this.failed(err) : (this.failures = 0)));
    } catch (e) {
      this.failed(e as Error);
    }
  }

  private failed(e: Error): void {
    // Logged the first time and then every 100th, so a gone socket cannot flood the journal.
    if (this.failures++ % 100 === 0) this.log.warn({ err: e, notifySocket: this.env.NOTIFY_SOCKET, failures: this.failures }, 'could not notify systemd');
  }
}
