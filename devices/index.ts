/**
 * Every device model qhub knows, one definition per file. Adding a model is
 * adding a file and a line here; the daemon never tests a model's name.
 */
import type { DeviceKind } from '../config/schema.js';
import { generic } from './generic.js';
import { GENERIC, type ModelDefinition } from './model.js';
import { qhubBoard4, qhubBoard8 } from './qhub-board.js';
import { qhubDispenser5 } from './qhub-dispenser-5.js';
import { qhubKeypad } from './qhub-keypad.js';
import { qhubSpeaker } from './qhub-speaker.js';
import { qhubWindowDisplay } from './qhub-window-display.js';
import { dfplayerSpeaker } from './dfplayer-speaker.js';
import { led485Display } from './led485-display.js';
import { lineKeypad } from './line-keypad.js';
import { lineBoard, lineWindowDisplay } from './line-display.js';
import { wiredDispenser } from './wired-dispenser.js';
import { webBoard, webSpeaker } from './web-hall.js';

export type { InLeaf, ModelDefinition, OutLeaf, TransportType } from './model.js';
export { GENERIC } from './model.js';

const list: ModelDefinition[] = [
  qhubDispenser5,
  qhubKeypad,
  qhubWindowDisplay,
  qhubBoard4,
  qhubBoard8,
  qhubSpeaker,
  // Wired to the Pi (daemon/wired/):
  wiredDispenser,
  lineKeypad,
  lineWindowDisplay,
  lineBoard,
  led485Display,
  dfplayerSpeaker,
  // Pages of the hub's web server (daemon/web/):
  webBoard,
  webSpeaker,
];

export const MODELS: ReadonlyMap<string, ModelDefinition> = new Map(list.map((m) => [m.model, m]));

/** The models a device of this kind may name, `generic` first. */
export function modelsOfKind(kind: DeviceKind): string[] {
  return [GENERIC, ...list.filter((m) => m.kind === kind).map((m) => m.model)];
}

/** Looks a model up for a kind: the definition, or why it cannot be used (for check-config). */
export function findModel(kind: DeviceKind, model: string): { ok: true; def: ModelDefinition } | { ok: false; why: string } {
  if (model === GENERIC) return { ok: true, def: generic[kind] };
  const m = MODELS.get(model);
  if (!m) return { ok: false, why: `model "${model}" is not known: a ${kind} can be ${modelsOfKind(kind).join(', ')}` };
  if (m.kind !== kind) return { ok: false, why: `model "${model}" is a ${m.kind}, not a ${kind}: a ${kind} can be ${modelsOfKind(kind).join(', ')}` };
  return { ok: true, def: m };
}

/**
 * The definition of a configured device. The config was checked with
 * findModel, so an unknown model here is a programming error, not a fallback.
 */
export function modelOf(device: { kind: DeviceKind; model: string }): ModelDefinition {
  const r = findModel(device.kind, device.model);
  if (!r.ok) throw new Error(r.why);
  return r.def;
}
