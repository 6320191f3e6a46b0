/**
 * The queue engine's vocabulary: commands in, events out, errors typed.
 * Events are the durable facts of the center; the store keeps them in order
 * and everything else (boards, voice, forwarding, reports) reads them.
 */

export type Position = 'front' | 'back';

/** Who sent a command, and its id, so a retried command is not done twice. */
export interface CommandRef {
  /** Device id, `backend`, `cli`, a user name... */
  source?: string;
  /** Unique per source (firmware: boot nonce + counter). */
  id?: string;
}

/** A ticket is named by its id ("2026-11-22/intake/42") or by its number ("A042"). */
export type TicketRef = string;

export type Command = CommandRef &
  (
    | { type: 'issue'; service: string; priority?: string }
    | { type: 'next'; window: number }
    | { type: 'recall'; window: number }
    | { type: 'start'; window: number }
    | { type: 'finish'; window: number }
    | { type: 'noShow'; window: number }
    | { type: 'returnNoShow'; ticket: TicketRef }
    | { type: 'transfer'; window: number; service: string; position?: Position }
    | { type: 'park'; window: number }
    | { type: 'resume'; window: number; ticket: TicketRef }
    | { type: 'callTicket'; window: number; ticket: TicketRef }
    | { type: 'callInquiry'; window: number; inquiry: string }
    | { type: 'attach'; ticket: TicketRef; requestId?: string; inquiry?: string }
    | { type: 'requeue'; service: string; ticket?: TicketRef; requestId?: string; inquiry?: string; position?: Position }
    /** A finished request: its citizen waits for `service` (delivery) under the inquiry number, with or without a ticket of today. */
    | { type: 'enqueueInquiry'; service: string; inquiry: string; requestId?: string }
    | { type: 'cancel'; ticket: TicketRef; reason?: string }
    | { type: 'open'; window: number }
    | { type: 'pause'; window: number; reason: string }
    | { type: 'close'; window: number }
    /** Which services a window calls from now on, in pick order (kept across restarts and rollovers). */
    | { type: 'assign'; window: number; services: string[] }
  );

export type CommandType = Command['type'];

export type TicketStatus = 'waiting' | 'called' | 'serving' | 'parked' | 'noShow' | 'done' | 'cancelled';
export const ACTIVE: ReadonlySet<TicketStatus> = new Set(['waiting', 'called', 'serving', 'parked', 'noShow']);

export interface Ticket {
  id: string;
  /** What is printed and shown: prefix + zero-padded number, or an inquiry number. */
  number: string;
  service: string;
  /** Business day the number belongs to. */
  day: string;
  /** Position in the service's number range (0: not numbered, e.g. an inquiry call). */
  n: number;
  priority?: string;
  status: TicketStatus;
  /** Sort key within its service queue: lower is called first. */
  order: number;
  issuedAt: number;
  enqueuedAt: number;
  calledAt?: number;
  servingAt?: number;
  endedAt?: number;
  window?: number;
  recalls: number;
  requestId?: string;
  inquiry?: string;
  device?: string;
  /** Ahead and expected wait as printed on the ticket. */
  ahead: number;
  expectedWaitMin: number;
  /** The service whose queue a `ticket.near` was last sent for (not again while it waits there). */
  nearIn?: string;
}

export type WindowStatus = 'open' | 'paused' | 'closed';

export interface WindowState {
  number: number;
  status: WindowStatus;
  reason?: string;
  /** Ticket id of the citizen at the window. */
  current?: string;
  served: number;
}

/**
 * What every ticket event says about its ticket, so a receiver (the backend,
 * a report) can read one event alone: the ticket's id, printed number and
 * service (after the event), and the request it is linked to, when it is.
 */
export interface TicketFacts {
  ticket: string;
  number: string;
  service: string;
  requestId?: string;
  inquiry?: string;
}

/** Event bodies as the engine decides them; `v`, `at`, `day`, `source` and `ref` are added then. */
export type EventBody =
  | { type: 'day.rolled'; from: string | null; to: string }
  | (TicketFacts & {
      type: 'ticket.issued';
      n: number;
      priority?: string;
      device?: string;
      ahead: number;
      expectedWaitMin: number;
      order: number;
    })
  | (TicketFacts & {
      type: 'ticket.called';
      window: number;
      how: 'next' | 'ticket' | 'inquiry' | 'resume';
      /** Time since it last joined a queue (ms). */
      waitMs: number;
      priority?: string;
    })
  | (TicketFacts & { type: 'ticket.recalled'; window: number; count: number })
  | (TicketFacts & { type: 'ticket.serving'; window: number })
  | (TicketFacts & { type: 'ticket.done'; window: number; serviceMs: number; reason?: 'rollover' })
  | (TicketFacts & { type: 'ticket.noShow'; window: number })
  | (TicketFacts & { type: 'ticket.returned'; position: Position; order: number })
  /** `service` is the service it now waits for (= `to`). */
  | (TicketFacts & { type: 'ticket.transferred'; window?: number; from: string; to: string; position: Position; order: number })
  | (TicketFacts & { type: 'ticket.parked'; window: number })
  | (TicketFacts & { type: 'ticket.attached' })
  | (TicketFacts & { type: 'ticket.cancelled'; reason: string })
  /** A waiting ticket linked to a request has `ahead` people or fewer before it (`queue.nearAhead`): the backend may tell the citizen. */
  | (TicketFacts & { type: 'ticket.near'; ahead: number })
  /** A waiting ticket kept across the rollover (`center.day.leftovers: carry`): it now belongs to day `to`. */
  | (TicketFacts & { type: 'ticket.carried'; from: string; to: string })
  /** A device came online, or its faults changed while online (a printer out of paper). */
  | { type: 'device.online'; device: string; kind: string; model?: string; fw?: string; faults?: string[]; flaps?: number }
  /** A device went away; `why`: what the transport saw (disconnected, no answer, port closed...). */
  | { type: 'device.offline'; device: string; kind: string; why?: string; flaps?: number; /** When it went, if that was before this event was written (held back while it flapped), ms since 1970. */ since?: number }
  /** An alert for supervisors opened (a device missing or failing in opening hours, a queue over its threshold). */
  | { type: 'alert.raised'; alert: string; kind: AlertKind; device?: string; service?: string; message: string }
  /** The condition of an open alert ended. */
  | { type: 'alert.cleared'; alert: string; kind: AlertKind; device?: string; service?: string }
  /** The morning check (`qhub selftest`, or scheduled before opening): which devices answered, which did not and why. */
  | { type: 'selftest.done'; ok: boolean; devices: number; answered: number; missing: { device: string; kind: string; why: string }[]; trigger: 'command' | 'schedule' }
  | { type: 'window.opened'; window: number }
  | { type: 'window.paused'; window: number; reason: string }
  | { type: 'window.closed'; window: number }
  /** The window calls these services from now on, in this order (`assign`); the config's list until the first one. */
  | { type: 'window.assigned'; window: number; services: string[] };

export type EventType = EventBody['type'];

export type AlertKind = 'device.offline' | 'device.flapping' | 'device.fault' | 'queue.wait' | 'queue.length';

/**
 * Version of the event format. 1: the first hub (no `v` field; several ticket
 * events carried only the ticket id). 2: every event has `v`, ticket events
 * carry TicketFacts, and events caused by a command name its `source`.
 * The engine applies both; receivers are told the version of each event.
 */
export const EVENT_VERSION = 2;

/** A fact as stored: body plus when, which business day, and which command caused it. */
export type QueueEvent = EventBody & {
  v: number;
  at: number;
  day: string;
  /** Who sent the command: a device id, `backend`, a user name... */
  source?: string;
  /** `source/id` of the command, when it had one. */
  ref?: string;
};

/** An event after the store committed it. */
export type StoredEvent = QueueEvent & { seq: number };

export const ERROR_CODES = {
  unknown_service: 'no such service',
  unknown_window: 'no such window',
  unknown_ticket: 'no such ticket today',
  no_priority: 'this service has no priority tickets',
  numbers_exhausted: 'every number of this service is in use',
  window_closed: 'the window is closed: open it first',
  window_paused: 'the window is paused: open it first',
  window_busy: 'the window still has a citizen: finish, no-show or transfer first',
  window_idle: 'the window has no citizen now',
  not_served_here: 'this window does not serve that ticket’s service',
  wrong_state: 'the ticket is not in a state that allows this',
  grace_expired: 'too late to return this no-show to the queue',
  same_service: 'the ticket is already in that service',
  invalid_command: 'the command is malformed',
  storage_failed: 'the hub could not save this: nothing was changed',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class EngineError extends Error {
  constructor(
    readonly code: ErrorCode,
    message?: string,
  ) {
    super(message ?? ERROR_CODES[code]);
    this.name = 'EngineError';
  }
}

export type Decision =
  | { ok: true; events: EventBody[]; duplicate?: boolean; ticket?: string }
  | { ok: false; error: EngineError };
