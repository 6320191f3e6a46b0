/**
 * The little of johnny-five 2.1 and firmata-io 2.3 that drivers/firmata.ts
 * uses. Neither ships types; these are written from their sources
 * (node_modules/johnny-five/lib/{board,button,pin}.js, lib/led/led.js,
 * node_modules/firmata-io/lib/firmata.js), and only cover what we call or
 * clean up, so a wrong guess shows up as a type error here, not as a
 * silently-any elsewhere.
 */

declare module 'firmata-io' {
  import type { EventEmitter } from 'node:events';

  /** What firmata-io calls on the object it is given instead of a port path. */
  export interface FirmataTransport {
    on(event: 'data' | 'open' | 'close' | 'error', fn: (...args: any[]) => void): unknown;
    write(data: Buffer, done: () => void): unknown;
  }

  export interface FirmataOptions {
    /** How long to wait for the board's unprompted version report before asking for it (once). */
    reportVersionTimeout?: number;
    samplingInterval?: number;
    skipCapabilities?: boolean;
  }

  export class Firmata extends EventEmitter {
    constructor(transport: FirmataTransport, options?: FirmataOptions, callback?: (err?: Error) => void);
    readonly name: string;
    readonly isReady: boolean;
    readonly versionReceived: boolean;
    /** Writes handed to the transport whose callback has not run yet. */
    readonly pending: number;
    /** The ask-for-the-version timer; still armed when torn down before the handshake. */
    readonly reportVersionTimeoutId: NodeJS.Timeout | undefined;
    readonly firmware: { name?: string; version?: { major: number; minor: number } };
    readonly version: { major?: number; minor?: number };
    readonly pins: { mode?: number; value?: number; supportedModes: number[] }[];
  }

  interface BindTransport {
    (transport: unknown): typeof Firmata;
    Firmata: typeof Firmata;
  }
  const bindTransport: BindTransport;
  export default bindTransport;
}

declare module 'johnny-five' {
  import type { EventEmitter } from 'node:events';
  import type { Firmata } from 'firmata-io';

  export interface BoardOptions {
    io: Firmata;
    id?: string;
    repl?: boolean;
    sigint?: boolean;
    /** false: Board#log does not console.log (it still emits its events). */
    debug?: boolean;
    /** ms from "connect" to "ready" before the board emits "error" (default 10 s). */
    timeout?: number;
  }

  export class Board extends EventEmitter {
    constructor(options: BoardOptions);
    readonly id: string;
    readonly isReady: boolean;
    readonly io: Firmata;
    /** The connect-to-ready timeout; only cleared by "ready". */
    readonly timer: NodeJS.Timeout | null;
    /** Every Board ever constructed, in a module-level array (the same array on each read). */
    static readonly cache: Board[];
    static readonly Pins: { normalize: { clear(): void } };
  }

  export class Button extends EventEmitter {
    constructor(options: { pin: number; board: Board; isPullup?: boolean; invert?: boolean; holdtime?: number });
    board: Board | undefined;
    io: Firmata | undefined;
    readonly pin: number;
    readonly isDown: boolean;
    readonly upValue: number;
    readonly downValue: number;
  }

  export class Led {
    constructor(options: { pin: number; board: Board });
    board: Board | undefined;
    io: Firmata | undefined;
    readonly isOn: boolean;
    on(): this;
    off(): this;
    blink(ms?: number): this;
    stop(): this;
  }

  export class Pin extends EventEmitter {
    constructor(options: { pin: number; board: Board; mode?: number });
    board: Board | undefined;
    io: Firmata | undefined;
    high(): this;
    low(): this;
  }
}
