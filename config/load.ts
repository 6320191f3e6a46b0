/**
 * Reading a center's config file: YAML → schema → secrets, with every problem
 * tied to a file, a line and a key path so a technician can fix it.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { deviceModelChecks } from './device-checks.js';
import { CenterFile, type CenterConfig } from './schema.js';

/** The schema plus the checks that need the device models. */
const CheckedCenterFile = CenterFile.superRefine(deviceModelChecks, { when: () => true });

export interface Problem {
  file: string;
  line: number;
  path: string;
  message: string;
  severity: 'error' | 'warning';
}

export interface LoadedCenter {
  file: string;
  config: CenterConfig;
  /** device id or user name → secret; a device without one cannot log in. */
  secrets: Map<string, string>;
  warnings: Problem[];
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: Problem[],
  ) {
    super(`${file}: ${problems.filter((p) => p.severity === 'error').length} problem(s) in the config:\n${problems.map(formatProblem).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Key of the webhook's HMAC secret in LoadedCenter.secrets. */
export const WEBHOOK_SECRET = 'forward:webhook';
/** Key of the backend's bearer token in LoadedCenter.secrets. */
export const INBOUND_TOKEN = 'forward:inbound';
/** Key of the upstream MQTT password in LoadedCenter.secrets. */
export const BRIDGE_PASSWORD = 'forward:mqtt';

export function formatProblem(p: Problem): string {
  const where = p.path ? `${p.path}: ` : '';
  const tag = p.severity === 'warning' ? 'warning: ' : '';
  return `${p.file}:${p.line}: ${tag}${where}${p.message}`;
}

/** `windows[3].services[1]` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : out ? `.${String(k)}` : String(k);
  return out;
}

/** The example center shipped with qhub (used by `qhub start` in a checkout). */
export const EXAMPLE_CONFIG = resolve(dirname(fileURLToPath(import.meta.url)), '../../config/center.example.yaml');

/**
 * Line (1-based) of the deepest node along `path` that exists in the document;
 * for a key, the line of the key itself.
 */
function lineOf(doc: Document, lc: LineCounter, path: readonly PropertyKey[]): number {
  let node: unknown = doc.contents;
  let best = 1;
  const mark = (n: unknown) => {
    const range = (n as YamlNode | undefined)?.range;
    if (range) best = lc.linePos(range[0]).line;
  };
  mark(node);
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(key));
      if (!pair) break;
      mark(pair.key);
      node = pair.value;
      if (node && !isScalar(node)) continue;
      if (node) mark(node);
      continue;
    }
    if (isSeq(node) && typeof key === 'number') {
      const item = node.items[key];
      if (!item) break;
      mark(item);
      node = item;
      continue;
    }
    break;
  }
  return best;
}

/** The line of a key in a config file, for messages about a value in use (a port taken): the deepest part of `path` written there; 0 if unreadable. */
export function lineOfKey(file: string, path: readonly PropertyKey[]): number {
  try {
    const lc = new LineCounter();
    const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter: lc });
    return lineOf(doc, lc, path);
  } catch {
    return 0;
  }
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v: any = raw;
  for (const k of path) v = v == null ? undefined : v[k as any];
  return v;
}

/** How a found value is shown in a message; never the value of a secret. */
function describe(v: unknown, secret = false): string {
  if (v === null) return 'an empty value';
  if (secret) return typeof v === 'number' ? 'a number' : typeof v === 'boolean' ? `${v}` : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : 'text';
  if (typeof v === 'string') {
    const t = v.length > 40 ? `${v.slice(0, 37)}...` : v;
    return `the text "${t}"`;
  }
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping (key: value lines)';
  return typeof v;
}

const EXPECTED: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list, e.g. [a, b]',
  object: 'a mapping of "key: value" lines',
  record: 'a mapping of "key: value" lines',
};

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** zod's own (English, capitalised) messages; the schema's are lowercase "must ..." / "is ...". */
const isZodDefault = (m: string) => /^(Invalid|Too (small|big)|Unrecognized)/.test(m);

/** "must be ..." for an issue whose message is zod's default. */
function defaultRequirement(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `must be ${EXPECTED[issue.expected] ?? issue.expected}`;
    case 'too_small': {
      const n = Number(issue.minimum);
      if (issue.origin === 'string') return n <= 1 ? 'must not be empty' : `must be at least ${plural(n, 'character')}`;
      if (issue.origin === 'array' || issue.origin === 'set') return `must list at least ${plural(n, 'item')}`;
      return issue.inclusive ? `must be ${n} or more` : `must be more than ${n}`;
    }
    case 'too_big': {
      const n = Number(issue.maximum);
      if (issue.origin === 'string') return `must be at most ${plural(n, 'character')}`;
      if (issue.origin === 'array' || issue.origin === 'set') return `must list at most ${plural(n, 'item')}`;
      return issue.inclusive ? `must be ${n} or less` : `must be less than ${n}`;
    }
    case 'invalid_value':
      return issue.values.length === 1 ? `must be ${String(issue.values[0])}` : `must be one of ${issue.values.map(String).join(', ')}`;
    case 'invalid_format':
      return issue.pattern ? `must match the pattern ${issue.pattern}` : `must be a valid ${issue.format}`;
    case 'invalid_union':
      return 'does not match any of the allowed forms (see docs/CONFIG.md)';
    default:
      return issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
  }
}

/** A hint for the usual slip behind a wrong type: quotes around a number, yes/no for a boolean, ... */
function typeHint(expected: string, v: unknown): string {
  if ((expected === 'number' || expected === 'int') && typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)))
    return ': remove the quotes around the number';
  if (expected === 'boolean' && typeof v === 'string') return ': write true or false, without quotes';
  if (expected === 'string' && (typeof v === 'number' || typeof v === 'boolean')) return ': put the value in quotes';
  if (expected === 'array' && v !== null && typeof v !== 'object') return `: write it as a list, e.g. [${String(v)}]`;
  return '';
}

/** The keys a strict object at `path` accepts (every variant, for a union). */
function knownKeys(schema: unknown, path: readonly PropertyKey[]): string[] {
  const keys = new Set<string>();
  const walk = (s: any, rest: readonly PropertyKey[]): void => {
    const def = s?._zod?.def;
    if (!def) return;
    switch (def.type) {
      case 'optional':
      case 'nullable':
      case 'default':
      case 'prefault':
      case 'nonoptional':
      case 'readonly':
      case 'catch':
        return walk(def.innerType, rest);
      case 'pipe':
        return walk(def.in, rest);
      case 'union':
        for (const o of def.options) walk(o, rest);
        return;
      case 'array':
        if (typeof rest[0] === 'number') walk(def.element, rest.slice(1));
        return;
      case 'record':
        if (rest.length) walk(def.valueType, rest.slice(1));
        return;
      case 'object':
        if (!rest.length) for (const k of Object.keys(def.shape)) keys.add(k);
        else if (typeof rest[0] === 'string' && def.shape[rest[0]]) walk(def.shape[rest[0]], rest.slice(1));
        return;
    }
  };
  walk(schema, path);
  return [...keys];
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      // Two neighbouring letters swapped ("prot" for "port") count as one slip.
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

/** The known key a misspelt one most likely meant, if any is close. */
function closestKey(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dist = k.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key.toLowerCase(), k.toLowerCase());
    if (dist < bestD) [best, bestD] = [k, dist];
  }
  return best !== undefined && bestD <= (key.length <= 4 ? 1 : 2) ? best : undefined;
}

interface Explained {
  path: PropertyKey[];
  message: string;
  /** Set on a missing required key, and on an unknown key that is probably that key misspelt. */
  missing?: string;
  meant?: string;
}

function issueMessage(issue: z.core.$ZodIssue, raw: unknown): Explained[] {
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(CenterFile, issue.path);
    const here = valueAt(raw, issue.path) as Record<string, unknown> | undefined;
    return issue.keys.map((k) => {
      const path = [...issue.path, k];
      // A key of another form of the same section (a transport of another type): not a misspelling.
      if (known.includes(k) && typeof here?.type === 'string')
        return { path, message: `"${k}" does not go with type ${here.type}: it belongs to another type; remove it, or change the type (see docs/CONFIG.md)` };
      const meant = closestKey(k, known.filter((x) => here?.[x] === undefined || x.toLowerCase() === k.toLowerCase()));
      if (meant) return { path, meant: formatPath([...issue.path, meant]), message: `unknown key "${k}": did you mean "${meant}"? correct the spelling` };
      const list = known.length ? `; keys allowed here: ${known.join(', ')}` : '';
      return { path, message: `unknown key "${k}": remove it or check its spelling (see docs/CONFIG.md)${list}` };
    });
  }

  const value = valueAt(raw, issue.path);
  const secret = issue.path.includes('secret');
  const requirement = isZodDefault(issue.message) ? defaultRequirement(issue) : issue.message;
  const must = /^(must|does)\b/.test(requirement) ? `it ${requirement}` : requirement;

  if (value === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_union' || issue.code === 'invalid_value')) {
    const key = issue.path[issue.path.length - 1];
    const add = typeof key === 'string' ? `add "${key}:"` : 'add it';
    return [{ path: issue.path, missing: formatPath(issue.path), message: `is missing: ${add}; ${must}` }];
  }

  // Issues that are about the value itself say what was found, so the technician can compare.
  switch (issue.code) {
    case 'invalid_type':
      return [{ path: issue.path, message: `found ${describe(value, secret)}, but ${must}${typeHint(issue.expected, value)}` }];
    case 'invalid_value':
    case 'invalid_format':
    case 'too_small':
    case 'too_big':
      if (secret || (value !== null && typeof value === 'object')) return [{ path: issue.path, message: requirement }];
      return [{ path: issue.path, message: `found ${describe(value)}, but ${must}` }];
    case 'invalid_union': {
      if (value !== null && typeof value === 'object') return [{ path: issue.path, message: requirement }];
      const hint = secret && typeof value === 'number' ? ': put the secret in quotes' : '';
      const what = issue.path[issue.path.length - 1];
      const found = typeof what === 'string' && (issue as { discriminator?: string }).discriminator === what ? `${what}: ${String(value)}` : describe(value, secret);
      return [{ path: issue.path, message: `found ${found}, but ${must}${hint}` }];
    }
    case 'custom':
      // The schema's own checks; a refine on a plain value (e.g. the time zone) gets the value in front.
      if (!secret && (typeof value === 'string' || typeof value === 'number') && /^is\b/.test(requirement))
        return [{ path: issue.path, message: `"${String(value)}" ${requirement}` }];
      return [{ path: issue.path, message: requirement }];
    default:
      return [{ path: issue.path, message: requirement }];
  }
}

/** What to do about a YAML syntax error, by its code. */
function yamlHint(code: string): string {
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'this key is given twice in the same section: keep one of them';
    case 'TAB_AS_INDENT':
      return 'indent with spaces, never tabs';
    case 'MULTIPLE_DOCS':
      return 'a center file holds one document: remove the "---" line and what follows, or merge it';
    case 'BAD_DQ_ESCAPE':
      return 'inside "double quotes" a backslash starts an escape: use single quotes, or write \\\\';
    case 'MISSING_CHAR':
      return 'a closing quote or bracket, or a "- " in a list, is missing: check this line and the one above';
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY':
      return 'fix the indentation here or on the next line (keys of one section start in the same column), or quote a value that contains ": "';
    default:
      return 'fix the indentation (keys of one section start in the same column, with spaces) or the quoting on this line';
  }
}

/** Parses and validates a center file's text; never throws. */
export function checkCenterText(text: string, file: string): { config?: CenterConfig; problems: Problem[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  const problems: Problem[] = [];
  const lines = new Set<number>();
  for (const e of doc.errors) {
    const line = e.linePos?.[0]?.line ?? 1;
    if (lines.has(line)) continue; // one cause, several complaints: the first one says it best
    lines.add(line);
    const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    problems.push({
      file,
      line,
      path: '',
      message: `YAML syntax error: ${what}: ${yamlHint(e.code)}`,
      severity: 'error',
    });
  }
  for (const w of doc.warnings) {
    problems.push({ file, line: w.linePos?.[0]?.line ?? 1, path: '', message: w.message.split('\n')[0] ?? '', severity: 'warning' });
  }
  if (problems.some((p) => p.severity === 'error')) return { problems };
  if (doc.contents === null) {
    problems.push({ file, line: 1, path: '', message: 'the file is empty: start from a copy of config/center.example.yaml', severity: 'error' });
    return { problems };
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (e) {
    problems.push({ file, line: 1, path: '', message: `YAML cannot be read: ${(e as Error).message}: remove the aliases (*name) that cause it`, severity: 'error' });
    return { problems };
  }
  const parsed = CheckedCenterFile.safeParse(raw);
  if (!parsed.success) {
    const explained = parsed.error.issues.flatMap((issue) => issueMessage(issue, raw));
    // A misspelt required key is reported once, as the misspelling, not also as missing.
    const meant = new Set(explained.map((m) => m.meant).filter(Boolean));
    for (const m of explained) {
      if (m.missing && meant.has(m.missing)) continue;
      problems.push({ file, line: lineOf(doc, lc, m.path), path: formatPath(m.path), message: m.message, severity: 'error' });
    }
    problems.sort((a, b) => a.line - b.line);
    return { problems };
  }
  return { config: parsed.data, problems };
}

/** Resolves every device and user secret; unresolved ones are reported, not fatal. */
function resolveSecrets(
  config: CenterConfig,
  file: string,
  text: string,
  env: NodeJS.ProcessEnv,
): { secrets: Map<string, string>; problems: Problem[] } {
  // The center file's lines are looked up only for a problem to report: most starts have none (a parse of
  // the whole file, and a walk of it per device, saved).
  let parsed: { doc: Document; lc: LineCounter } | undefined;
  const lineAt = (path: readonly PropertyKey[]): number => {
    if (!parsed) {
      const lc = new LineCounter();
      parsed = { doc: parseDocument(text, { lineCounter: lc }), lc };
    }
    return lineOf(parsed.doc, parsed.lc, path);
  };
  const secrets = new Map<string, string>();
  const problems: Problem[] = [];
  const base = dirname(file);

  /** The secrets file's entries, with their lines; undefined when the file is unusable (reported once, above). */
  let fromFile: Map<string, { value: unknown; line: number }> | undefined;
  let sfile = '';
  if (config.secrets) {
    sfile = resolve(base, config.secrets);
    const at = () => ({ file, line: lineAt(['secrets']), path: 'secrets' });
    let stext: string | undefined;
    try {
      stext = readFileSync(sfile, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const message =
        code === 'ENOENT'
          ? `secrets file ${sfile} does not exist: create it (one "device-id: secret" a line) or fix the path, which is relative to this file`
          : code === 'EACCES'
            ? `secrets file ${sfile} cannot be read: give the user running qhub read access (e.g. chown qhub, chmod 600)`
            : code === 'EISDIR'
              ? `${sfile} is a directory: give the path of the secrets .yaml file`
              : `secrets file ${sfile} cannot be read (${(e as Error).message}): fix the path or the file`;
      problems.push({ ...at(), message, severity: 'error' });
    }
    if (stext !== undefined) {
      const slc = new LineCounter();
      const sdoc = parseDocument(stext, { lineCounter: slc, uniqueKeys: true });
      const err = sdoc.errors[0];
      if (err) {
        const what = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        problems.push({ file: sfile, line: err.linePos?.[0]?.line ?? 1, path: '', message: `YAML syntax error: ${what}: ${yamlHint(err.code)}`, severity: 'error' });
      } else if (sdoc.contents !== null && !isMap(sdoc.contents)) {
        problems.push({ file: sfile, line: 1, path: '', message: 'must be a mapping of "device-id: secret" lines: rewrite it as one device a line', severity: 'error' });
      } else {
        fromFile = new Map();
        for (const pair of isMap(sdoc.contents) ? sdoc.contents.items : []) {
          if (!isScalar(pair.key)) continue;
          const node = pair.value as YamlNode | null;
          fromFile.set(String(pair.key.value), {
            value: isScalar(node) ? node.value : node ? [] : null, // a list or mapping: never a usable secret
            line: slc.linePos((pair.key.range ?? [0])[0]).line,
          });
        }
        const owners = new Set([...config.devices.map((d) => d.id), ...config.hub.users.map((u) => u.name)]);
        for (const [k, { line }] of fromFile)
          if (!owners.has(k))
            problems.push({ file: sfile, line, path: k, message: `is not a device or user in ${basename(file)}: remove the line, or correct the id`, severity: 'warning' });
      }
    }
  }

  const resolveOne = (
    owner: string,
    secret: CenterConfig['devices'][number]['secret'],
    path: (string | number)[],
  ): void => {
    const at = () => ({ file, line: lineAt(path), path: formatPath(path) });
    if (secret === undefined) {
      if (!fromFile) return; // no usable secrets file: already reported
      const entry = fromFile.get(owner);
      const v = entry?.value;
      if (typeof v === 'string' && v.length >= 8) secrets.set(owner, v);
      else if (!entry)
        problems.push({ ...at(), message: `no secret for "${owner}" in ${config.secrets}: add a line "${owner}: <secret of 8+ characters>" there`, severity: 'error' });
      else
        problems.push({
          file: sfile,
          line: entry.line,
          path: owner,
          message:
            typeof v === 'string'
              ? 'is shorter than 8 characters: use a longer secret (e.g. from openssl rand -hex 16)'
              : typeof v === 'number' || typeof v === 'boolean'
                ? `is ${typeof v === 'number' ? 'a number' : String(v)}, not text: put the secret in quotes`
                : `is ${v === null ? 'empty' : 'not text'}: write "${owner}: <secret of 8+ characters>"`,
          severity: 'error',
        });
      return;
    }
    if (typeof secret === 'string') {
      secrets.set(owner, secret);
      return;
    }
    if ('env' in secret) {
      const v = env[secret.env];
      if (v && v.length >= 8) secrets.set(owner, v);
      else problems.push({ ...at(), message: `environment variable ${secret.env} is ${v ? 'shorter than 8 characters' : 'not set'}: "${owner}" cannot log in until it is set`, severity: 'warning' });
      return;
    }
    const p = resolve(base, secret.file);
    try {
      const v = readFileSync(p, 'utf8').trim();
      if (v.length < 8) throw new Error('shorter than 8 characters');
      secrets.set(owner, v);
    } catch (e) {
      problems.push({ ...at(), message: `secret file ${p} cannot be used (${(e as Error).message}): "${owner}" cannot log in until it is fixed`, severity: 'warning' });
    }
  };

  config.devices.forEach((d, i) => {
    if (d.transport.type === 'mqtt') resolveOne(d.id, d.secret, ['devices', i, 'secret']);
  });
  // A user's secret is for MQTT only (the API takes passwords): none is fine.
  config.hub.users.forEach((u, i) => {
    if (u.secret !== undefined || fromFile?.has(u.name)) resolveOne(u.name, u.secret, ['hub', 'users', i, 'secret']);
  });
  // The forwarder's secret is kept under a name no device or user can have (ids are lowercase, no ':').
  if (config.forward.webhook) resolveOne(WEBHOOK_SECRET, config.forward.webhook.secret, ['forward', 'webhook', 'secret']);
  if (config.forward.inbound) resolveOne(INBOUND_TOKEN, config.forward.inbound.token, ['forward', 'inbound', 'token']);
  if (config.forward.mqtt?.password) resolveOne(BRIDGE_PASSWORD, config.forward.mqtt.password, ['forward', 'mqtt', 'password']);
  return { secrets, problems };
}

/** Everything `qhub check-config` prints; never throws. */
export function checkCenterFile(file: string, env: NodeJS.ProcessEnv = process.env): { loaded?: LoadedCenter; problems: Problem[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const what =
      err.code === 'ENOENT'
        ? 'file does not exist: check the path and the spelling of the name'
        : err.code === 'EACCES'
          ? 'file cannot be read: give the user running qhub read access to it'
          : err.code === 'EISDIR'
            ? "is a directory: give the center's .yaml file, e.g. /etc/qhub/center.yaml"
            : `file cannot be read (${err.message}): check the path`;
    // Line 0: the problem is the file as a whole.
    return { problems: [{ file, line: 0, path: '', message: what, severity: 'error' }] };
  }
  const { config, problems } = checkCenterText(text, file);
  if (!config) return { problems };
  const s = resolveSecrets(config, file, text, env);
  // The center file's problems by line, then those of the files it names (secrets).
  const all = [...problems, ...s.problems].sort((a, b) => Number(a.file !== file) - Number(b.file !== file) || a.file.localeCompare(b.file) || a.line - b.line);
  if (all.some((p) => p.severity === 'error')) return { problems: all };
  return { loaded: { file, config, secrets: s.secrets, warnings: all }, problems: all };
}

/** Loads a center file or throws a ConfigError listing every problem. */
export function loadCenter(file: string, env: NodeJS.ProcessEnv = process.env): LoadedCenter {
  const { loaded, problems } = checkCenterFile(resolve(file), env);
  if (!loaded) throw new ConfigError(resolve(file), problems);
  return loaded;
}

export function summary(c: CenterConfig): string {
  const by = (k: string, name: string) => plural(c.devices.filter((d) => d.kind === k).length, name);
  return (
    `${c.center.id}: ${plural(c.services.length, 'service')}, ${plural(c.windows.length, 'window')}, ${plural(c.devices.length, 'device')} ` +
    `(${by('dispenser', 'dispenser')}, ${by('keypad', 'keypad')}, ${by('display', 'window display')}, ${by('board', 'board')}, ${by('speaker', 'speaker')}), ` +
    `time zone ${c.center.timezone}, numbering restarts at ${c.center.day.rollover}`
  );
}
