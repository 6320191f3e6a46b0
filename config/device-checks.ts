/**
 * The checks of a center file that need the device models (devices/): a
 * device's model exists for its kind and transport, its buttons and pins,
 * serial lines shared only by bus devices at one speed, displays that can
 * show every ticket of their window. Kept apart from the schema so the
 * schema stays at the bottom of the layers (the models import its types).
 * Runs even when parts of the file are invalid, like the schema's own
 * cross-checks, so every problem is shown in one pass.
 */
import type { z } from 'zod';
import { findModel, MODELS } from '../devices/index.js';
import { DEVICE_KINDS, type DeviceKind } from './schema.js';

type Loose = Record<string, any>;
const list = (x: unknown): Loose[] => (Array.isArray(x) ? x.map((v) => (v && typeof v === 'object' ? v : {})) : []);

export function deviceModelChecks(cfg: Loose, ctx: z.RefinementCtx): void {
  if (!cfg || typeof cfg !== 'object') return;
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message, input: undefined });
  const services = list(cfg.services);
  const windows = list(cfg.windows);
  const lines = new Map<string, { id: string; what: string; bus: string | undefined; settings: string; addresses: Map<number, string> }>();
  list(cfg.devices).forEach((d, i) => {
    if (typeof d.id !== 'string') return;
    const b: Loose = d.bind && typeof d.bind === 'object' ? d.bind : {};
    if (typeof d.kind === 'string' && (DEVICE_KINDS as readonly string[]).includes(d.kind)) {
      const found = findModel(d.kind as DeviceKind, typeof d.model === 'string' ? d.model : 'generic');
      if (!found.ok) issue(['devices', i, d.model === undefined ? 'kind' : 'model'], `${found.why} (docs/CONFIG.md lists the models)`);
      else {
        const m = found.def;
        const type = d.transport && typeof d.transport.type === 'string' ? d.transport.type : 'mqtt';
        if (!m.transports.includes(type))
          issue(
            d.transport ? ['devices', i, 'transport', 'type'] : ['devices', i],
            `model "${m.model}" is reached over ${m.transports.join(' or ')}, not ${type}: no link in this qhub drives a ${d.kind} of this model over ${type}; use transport: {type: ${m.transports[0]}}${wiredAs(d.kind as DeviceKind, type)}`,
          );
        const bound = Array.isArray(b.services) ? b.services.length : 0;
        if (m.buttons !== undefined && bound > m.buttons)
          issue(['devices', i, 'bind', 'services'], `model "${m.model}" has ${m.buttons} buttons but ${bound} services are bound: bind at most ${m.buttons}, in button order`);
        const pins = type === 'firmata' && Array.isArray(d.transport.buttons) ? d.transport.buttons.length : undefined;
        if (pins !== undefined && bound > pins)
          issue(['devices', i, 'transport', 'buttons'], `${pins} button pins for ${bound} bound services: give one pin per service, in the order of bind.services`);
        if (type === 'serial' && d.transport.address !== undefined && !m.bus)
          issue(['devices', i, 'transport', 'address'], `model "${m.model}" is not a bus device: an address is for Modbus displays sharing an RS-485 line; remove it`);
        if (type === 'serial' && m.bauds && typeof d.transport.baud === 'number' && !m.bauds.includes(d.transport.baud))
          issue(['devices', i, 'transport', 'baud'], `model "${m.model}" talks at ${m.bauds.join(' or ')} baud, not ${d.transport.baud}`);
        if (m.needs?.includes('printer') && type === 'firmata' && !d.transport.printer)
          issue(['devices', i, 'transport'], `model "${m.model}" prints tickets: add printer: {path: /dev/serial/by-id/...} to its transport`);
      }
    }
    // A serial line is one device's, unless every device on it is a bus device (RS-485 Modbus) with its own address.
    const t: Loose = d.transport && typeof d.transport === 'object' ? d.transport : {};
    const model = typeof d.kind === 'string' && (DEVICE_KINDS as readonly string[]).includes(d.kind) ? findModel(d.kind as DeviceKind, typeof d.model === 'string' ? d.model : 'generic') : undefined;
    const bus = model?.ok ? model.def.bus : undefined;
    const claim = (path: unknown, at: (string | number)[], what: string, settings: string) => {
      if (typeof path !== 'string') return;
      const other = lines.get(path);
      const address = t.type === 'serial' && typeof t.address === 'number' ? t.address : 1;
      if (!other) return void lines.set(path, { id: String(d.id), what, bus, settings, addresses: new Map([[address, String(d.id)]]) });
      if (!bus || other.bus !== bus)
        return issue(at, `${path} is already ${other.what} of device "${other.id}": each device (and each printer) needs its own serial line; only Modbus displays may share one RS-485 bus`);
      if (other.settings !== settings) issue(at, `${path} is the bus of device "${other.id}" at ${other.settings}: every device on one bus uses the same baud and framing (this one says ${settings})`);
      const taken = other.addresses.get(address);
      if (taken) return issue([...at.slice(0, -1), 'address'], `address ${address} on ${path} is already device "${taken}": give each display on a bus its own address`);
      other.addresses.set(address, String(d.id));
    };
    const settings = (x: Loose) => `${typeof x.baud === 'number' ? x.baud : 'default'} baud ${typeof x.framing === 'string' ? x.framing : '8N1'}`;
    if (t.type === 'serial' || t.type === 'firmata') claim(t.path, ['devices', i, 'transport', 'path'], 'the line', settings(t));
    if (t.type === 'firmata' && t.printer && typeof t.printer === 'object') claim(t.printer.path, ['devices', i, 'transport', 'printer', 'path'], 'the printer line', settings(t.printer));
    // A seven-segment display must be able to show every ticket of its window: letters it has no glyph for, and numbers wider than it, are refused here rather than shown as dashes.
    if (model?.ok && model.def.shows && typeof b.window === 'number') {
      const w = windows.find((x) => x.number === b.window);
      for (const sid of Array.isArray(w?.services) ? w.services : []) {
        const svc = services.find((x) => x.id === sid);
        if (!svc || typeof svc.prefix !== 'string') continue;
        const widest = `${svc.prefix}${'8'.repeat(String(typeof svc.last === 'number' ? svc.last : 999).length)}`;
        const why = model.def.shows(widest);
        if (why) issue(['devices', i, 'model'], `window ${b.window} serves "${sid}" (tickets up to ${widest}): ${why}; use another prefix, a smaller last number, or another display model`);
      }
    }
  });
}

/** The models of a kind that a transport carries, as a suggestion. */
function wiredAs(kind: DeviceKind, type: string): string {
  const models = [...MODELS.values()].filter((m) => m.kind === kind && (m.transports as readonly string[]).includes(type)).map((m) => m.model);
  return models.length ? `, or a ${kind} model reached over ${type}: ${models.join(', ')}` : ', or a model wired that way';
}
