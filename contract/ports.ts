/**
 * The narrow interfaces a module is handed instead of the whole hub (the
 * "ports"). A module names the ports it needs in its constructor's type;
 * `daemon/hub.ts` wires them. No module looks another up by name.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Command, ErrorCode, StoredEvent, Ticket } from './queue.js';

/** What a command came to, once its events are on disk (or why nothing changed). */
export type CoreResult =
  | { ok: true; events: StoredEvent[]; ticket?: Ticket; duplicate: boolean }
  | { ok: false; error: { code: ErrorCode; message: string } };

/** The one command path (daemon/core): resolves once the command's events are committed. Never rejects. */
export interface Commands {
  submit(cmd: Command): Promise<CoreResult>;
}

/** One HTTP request as a route handler sees it: the body as text (each route parses and explains its own errors). */
export interface HttpRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: string | undefined;
  /** The peer address. */
  ip: string;
  raw: IncomingMessage;
}

/**
 * A JSON body, raw bytes with their content type (a rendered announcement, a
 * page's script), or a stream that stays open (Server-Sent Events): the
 * server pipes it and destroys it when the client goes away.
 */
export type Reply =
  | { code: number; body: unknown; headers?: Record<string, string | string[]> }
  | { code: number; bytes: Buffer; type: string; cache?: string; headers?: Record<string, string | string[]> }
  | { code: number; stream: NodeJS.ReadableStream; type: string; headers?: Record<string, string | string[]> };

export type RouteHandler = (req: HttpRequest) => Reply | Promise<Reply>;

/** Adding HTTP routes (before the HTTP module starts listening). */
export interface Routes {
  route(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, handler: RouteHandler): void;
  routePrefix(method: 'GET' | 'POST', prefix: string, handler: RouteHandler): void;
  /** A part of /health: figures at its top level, and whether it makes the hub "degraded". */
  healthPart(part: () => { degraded?: boolean; summary?: Record<string, unknown> }): void;
}

/** Device presence: the device hub keeps the one record; others ask it here. */
export interface Presence {
  isOnline(id: string): boolean;
  /** Every configured device with its presence, for people (API, health). */
  list(): DevicePresence[];
}

export interface DevicePresence {
  id: string;
  kind: string;
  model: string;
  transport: string;
  enabled: boolean;
  online: boolean;
  since?: string;
  offlineSince?: string;
  why?: string;
  fw?: string;
  faults?: string[];
  bind: { window?: number; services?: string[]; zone?: string };
  /** Device health (daemon/health, rebuilt from the event log at start): absent where the hub has no record. */
  health?: DeviceHealth;
}

/** A device's day so far, kept across restarts (presence from the event log, errors in the store's rollups). */
export interface DeviceHealth {
  /** When the hub last heard it: now while online, else when its link went down (ISO 8601); absent: never seen. */
  lastSeen?: string;
  /** Times it came back after going offline, this business day. */
  reconnectsToday: number;
  /** Requests it sent that the hub refused (bad payload, not allowed), this business day; those refused at the door (rate, size) at most once a second per reason. */
  errorsToday: number;
  lastError?: { code: string; at: string };
  /** Last model and firmware it reported (also while offline). */
  model?: string;
  fw?: string;
  /** Offline: since when and why, also when that was before a restart. */
  offlineSince?: string;
  why?: string;
}

/** What an action of the command table (daemon/api/actions.ts) came to. */
/** `file`: the result is a text served as is over HTTP (a rendered report), not JSON. */
export type ActionResult = { ok: true; result: unknown; file?: { type: string; name: string } } | { ok: false; status: number; error: string; message: string };

/** Runs one action of the command table as a principal (validation, roles, the action): the backend's transports use it. */
export type RunAction = (name: string, input: unknown, who: import('./roles.js').Principal) => Promise<ActionResult>;

/** What a config reload changed (config/changes.ts computes it). */
export interface Changes {
  /** Keys marked RESTART whose value changed: kept as they run until a restart. */
  waitForRestart: string[];
  devices: { added: string[]; removed: string[]; changed: string[]; secret: string[] };
  windows: { added: number[]; removed: number[]; changed: number[] };
  services: { added: string[]; removed: string[]; changed: string[] };
  users: { added: string[]; removed: string[]; changed: string[] };
  /** Other top-level sections that changed (queue, voice, center...). */
  sections: string[];
  /** Whether anything at all changed. */
  any: boolean;
}

export interface ReloadResult {
  ok: boolean;
  summary: string;
  changes?: Changes;
  waitForRestart: string[];
  /** Modules that could not take the new config (they run on as they were). */
  failed?: { module: string; error: string }[];
  /** The file's problems (FILE:LINE: key: what), when it was refused. */
  problems?: string[];
}

/**
 * What the device hub lets the fallbacks module (daemon/fallbacks) change
 * while a device is down; the device hub applies it to what it sends and accepts.
 */
export interface FallbackPort {
  /** The boards of a zone flash the newest call this many seconds (no speaker of the zone is online); undefined: their own default. */
  setFlash(zone: string, seconds: number | undefined): void;
  /** A dispenser also issues these services (it covers a dispenser that is down); empty: only its own. */
  setCovered(dispenser: string, services: string[]): void;
}

/** A fallback the hub applies by itself while a device is down. */
export interface ActiveFallback {
  /** `<kind>:<device>`, e.g. `speaker:spk-1`. */
  fallback: string;
  device: string;
  kind: string;
  /** What the hub does instead, in words. */
  what: string;
  since: string;
}

/** What the morning check (daemon/selftest) found. */
export interface SelftestReport {
  at: string;
  /** Every enabled device answered and no printer reports a fault. */
  ok: boolean;
  trigger: 'command' | 'schedule';
  devices: { device: string; kind: string; answered: boolean; how: string; why?: string }[];
  /** The devices that did not answer, or answered with a fault, and why. */
  missing: { device: string; kind: string; why: string }[];
  /** Where the report was kept, relative to the data directory (selftest/<date>.json). */
  file?: string;
}

/** Today's figures for the supervisor's dashboard: the reports' own definitions (docs/REPORTS.md), up to now. */
export interface TodayFigures {
  day: string;
  /** The moment the figures run to (ISO 8601). */
  until: string;
  services: TodayService[];
  /** All services together ("all services" of the report). */
  total: TodayService;
  windows: { number: number; called: number; served: number; avgServiceS: number | null }[];
  /** Local hours of the day, with the mean wait of the citizens who arrived in each. */
  hours: { hour: number; label: string; issued: number; called: number; served: number; avgWaitS: number | null }[];
}

export interface TodayService {
  id: string;
  /** Target wait, minutes (services[].targetWaitMinutes). */
  target: number;
  issued: number;
  called: number;
  withinTarget: number;
  /** withinTarget ÷ called, 0–1; null when nobody was called yet. */
  serviceLevel: number | null;
  served: number;
  avgWaitS: number | null;
  /** The longest wait that ended with a call today, seconds. */
  maxWaitS: number | null;
}

/** The reports for people: today's figures, and a day's or week's report rendered. */
export interface ReportsPort {
  today(): TodayFigures;
  render(what: { day: string } | { week: string }, format: 'csv' | 'html', lang: 'ar' | 'en'): string;
}

/** A backup taken by the running hub (`hub.backup`). */
export interface BackupDone {
  file: string;
  bytes: number;
  events: number;
  lastSeq: number;
  ms: number;
}
