/**
 * What each device model means, as data: the hub reads these definitions to
 * shape what it sends a device (how many rows a board shows, how many
 * buttons a dispenser has). Transport details (serial, GPIO) live in drivers/;
 * adding a model is adding an entry here, not code in the daemon.
 */
import type { DeviceKind } from '../config/schema.js';

export interface ModelDefinition {
  model: string;
  kind: DeviceKind;
  description: string;
  /** Boards: how many recent calls fit. */
  rows?: number;
  /** Dispensers: physical buttons, in the order of the device's bound services. */
  buttons?: number;
  /** Dispensers: printer paper width in dots (raster printing of Arabic). */
  printerDots?: number;
  /** Speakers: languages it can play, in the order they are announced. */
  languages?: ('ar' | 'en')[];
}

const list: ModelDefinition[] = [
  { model: 'qhub-dispenser-5', kind: 'dispenser', description: 'reception dispenser, 5 service buttons, 80 mm thermal printer', buttons: 5, printerDots: 576 },
  { model: 'qhub-keypad', kind: 'keypad', description: 'window keypad with a 2-line screen', rows: 2 },
  { model: 'qhub-window-display', kind: 'display', description: 'small LED display above a window: one number', rows: 1 },
  { model: 'qhub-board-4row', kind: 'board', description: 'hall LED board, 4 rows of number → window', rows: 4 },
  { model: 'qhub-board-8row', kind: 'board', description: 'hall LED board, 8 rows of number → window', rows: 8 },
  { model: 'qhub-speaker', kind: 'speaker', description: 'networked voice board with a chime and clip playback', languages: ['ar', 'en'] },
];

export const MODELS: ReadonlyMap<string, ModelDefinition> = new Map(list.map((m) => [m.model, m]));

const GENERIC: Record<DeviceKind, ModelDefinition> = {
  dispenser: { model: 'generic', kind: 'dispenser', description: 'any dispenser speaking the qhub protocol', buttons: 1 },
  keypad: { model: 'generic', kind: 'keypad', description: 'any keypad speaking the qhub protocol', rows: 2 },
  display: { model: 'generic', kind: 'display', description: 'any window display', rows: 1 },
  board: { model: 'generic', kind: 'board', description: 'any hall board', rows: 4 },
  speaker: { model: 'generic', kind: 'speaker', description: 'any speaker', languages: ['ar'] },
};

/** The definition for a configured device; an unknown model falls back to its kind's generic one. */
export function modelOf(device: { kind: DeviceKind; model: string }): ModelDefinition {
  const m = MODELS.get(device.model);
  return m && m.kind === device.kind ? m : GENERIC[device.kind];
}
