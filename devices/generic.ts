/** The `generic` model of each kind: any device that speaks docs/PROTOCOL.md over MQTT. */
import type { DeviceKind } from '../config/schema.js';
import { GENERIC, type ModelDefinition } from './model.js';

export const generic: Record<DeviceKind, ModelDefinition> = {
  dispenser: { model: GENERIC, kind: 'dispenser', description: 'any dispenser speaking the qhub protocol (presses by service or button)', transports: ['mqtt'], sends: ['press'], accepts: ['ticket', 'error'] },
  keypad: { model: GENERIC, kind: 'keypad', description: 'any keypad speaking the qhub protocol', transports: ['mqtt'], sends: ['cmd'], accepts: ['screen', 'error'] },
  display: { model: GENERIC, kind: 'display', description: 'any window display speaking the qhub protocol', transports: ['mqtt'], sends: [], accepts: ['display', 'error'] },
  board: { model: GENERIC, kind: 'board', description: 'any hall board speaking the qhub protocol, 4 rows', transports: ['mqtt'], sends: [], accepts: ['display', 'error'], rows: 4 },
  speaker: { model: GENERIC, kind: 'speaker', description: 'any speaker speaking the qhub protocol, Arabic', transports: ['mqtt'], sends: ['played'], accepts: ['announce', 'error'], languages: ['ar'] },
};
