/**
 * What a reload changes: the keys of the config whose value differs, the
 * devices, windows, services and users added, removed or changed, and which
 * changed keys the schema marks as needing a restart (`RESTART`: ports, the
 * data directory, forwarding, the center's id). A reload applies the rest and
 * keeps the running values of those.
 */
import { z } from 'zod';
import type { Changes } from '../contract/ports.js';
import { CenterFile, type CenterConfig } from './schema.js';

export type { Changes };

type Schema = z.ZodType & { _zod: { def: Record<string, unknown> } };

/** Paths (a.b.c) of the keys marked RESTART in the schema. */
export function restartKeys(schema: z.ZodType = CenterFile): string[] {
  const out: string[] = [];
  const walk = (s: Schema, path: string[]): void => {
    if (z.globalRegistry.get(s)?.restart) {
      out.push(path.join('.'));
      return;
    }
    const def = s._zod.def;
    if (def.innerType) return walk(def.innerType as Schema, path); // optional, default, prefault
    if (def.in && def.type === 'pipe') return walk(def.in as Schema, path);
    if (def.shape) for (const [k, v] of Object.entries(def.shape as Record<string, Schema>)) walk(v, [...path, k]);
  };
  walk(schema as Schema, []);
  return out;
}

const RESTART_KEYS = restartKeys();

function at(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

function setAt(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) o = o[k] = { ...(o[k] as Record<string, unknown>) };
  o[keys.at(-1)!] = value;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);


function byKey<T>(a: T[], b: T[], key: (x: T) => string | number) {
  const A = new Map(a.map((x) => [key(x), x]));
  const B = new Map(b.map((x) => [key(x), x]));
  return {
    added: [...B.keys()].filter((k) => !A.has(k)),
    removed: [...A.keys()].filter((k) => !B.has(k)),
    changed: [...B.keys()].filter((k) => A.has(k) && !same(A.get(k), B.get(k))),
  };
}

/**
 * The config to run after a reload (the new file, with the running values of
 * restart-only keys) and what changed. Secrets are compared by owner.
 */
export function planReload(
  running: CenterConfig,
  runningSecrets: ReadonlyMap<string, string>,
  next: CenterConfig,
  nextSecrets: ReadonlyMap<string, string>,
): { config: CenterConfig; changes: Changes } {
  const waitForRestart = RESTART_KEYS.filter((k) => !same(at(running, k), at(next, k)));
  const config = structuredClone(next) as unknown as Record<string, unknown>;
  for (const k of waitForRestart) setAt(config, k, structuredClone(at(running, k)));
  const devices = byKey(running.devices, next.devices, (d) => d.id) as { added: string[]; removed: string[]; changed: string[] };
  const secret = next.devices.map((d) => d.id).filter((id) => runningSecrets.has(id) && runningSecrets.get(id) !== nextSecrets.get(id));
  const users = byKey(running.hub.users, next.hub.users, (u) => u.name) as Changes['users'];
  for (const u of next.hub.users) if (runningSecrets.get(u.name) !== nextSecrets.get(u.name) && !users.changed.includes(u.name) && !users.added.includes(u.name)) users.changed.push(u.name);
  const sections = (['center', 'queue', 'voice', 'web', 'secrets'] as const).filter((k) => !same(running[k], next[k]));
  const changes: Changes = {
    waitForRestart,
    devices: { ...devices, secret },
    windows: byKey(running.windows, next.windows, (w) => w.number) as Changes['windows'],
    services: byKey(running.services, next.services, (s) => s.id) as Changes['services'],
    users,
    sections,
    any: false,
  };
  changes.any =
    waitForRestart.length > 0 ||
    sections.length > 0 ||
    [changes.devices, changes.windows, changes.services, changes.users].some((c) => c.added.length + c.removed.length + c.changed.length > 0) ||
    secret.length > 0;
  return { config: config as unknown as CenterConfig, changes };
}

/** One line for the journal and the command line. */
export function describeChanges(c: Changes): string {
  const part = (what: string, x: { added: (string | number)[]; removed: (string | number)[]; changed: (string | number)[] }) => {
    const bits = [x.added.length ? `+${x.added.join(',')}` : '', x.removed.length ? `-${x.removed.join(',')}` : '', x.changed.length ? `~${x.changed.join(',')}` : ''].filter(Boolean);
    return bits.length ? `${what} ${bits.join(' ')}` : '';
  };
  const list = [
    part('devices', c.devices),
    c.devices.secret.length ? `new secrets for ${c.devices.secret.join(',')}` : '',
    part('windows', c.windows),
    part('services', c.services),
    part('users', c.users),
    c.sections.length ? `changed: ${c.sections.join(', ')}` : '',
  ].filter(Boolean);
  return (list.length ? list.join('; ') : 'nothing to apply') + (c.waitForRestart.length ? `; waiting for a restart: ${c.waitForRestart.join(', ')}` : '');
}
