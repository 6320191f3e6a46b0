/**
 * Every engine command and its decider, one file each. The type makes a
 * command without a decider (or a decider of the wrong command) a compile
 * error; `Engine.decide` dispatches through this table.
 */
import type { Decider } from '../queries.js';
import type { CommandType } from '../../../contract/queue.js';
import { assign } from './assign.js';
import { attach } from './attach.js';
import { callInquiry } from './call-inquiry.js';
import { callTicket } from './call-ticket.js';
import { cancel } from './cancel.js';
import { close } from './close.js';
import { enqueueInquiry } from './enqueue-inquiry.js';
import { finish } from './finish.js';
import { issue } from './issue.js';
import { next } from './next.js';
import { noShow } from './no-show.js';
import { open } from './open.js';
import { park } from './park.js';
import { pause } from './pause.js';
import { recall } from './recall.js';
import { requeue } from './requeue.js';
import { resume } from './resume.js';
import { returnNoShow } from './return-no-show.js';
import { start } from './start.js';
import { transfer } from './transfer.js';

export type Deciders = { readonly [K in CommandType]: Decider<K> };

export const DECIDERS: Deciders = {
  issue,
  next,
  recall,
  start,
  finish,
  noShow,
  returnNoShow,
  transfer,
  park,
  resume,
  callTicket,
  callInquiry,
  attach,
  requeue,
  enqueueInquiry,
  cancel,
  open,
  pause,
  close,
  assign,
};

/** Whether a value names an engine command (`Object.hasOwn`: "toString" is not one). */
export function isCommandType(type: unknown): type is CommandType {
  return typeof type === 'string' && Object.hasOwn(DECIDERS, type);
}

export type { CommandOf, Decider } from '../queries.js';
