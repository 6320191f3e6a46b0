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

/** A JSON body, or raw bytes with their content type (a rendered announcement, a page's script). */
export type Reply =
  | { code: number; body: unknown; headers?: Record<string, string | string[]> }
  | { code: number; bytes: Buffer; type: string; cache?: string; headers?: Record<string, string | string[]> };

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
}
