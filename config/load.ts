/**
 * Reading a center's config file: YAML → schema → secrets, with every problem
 * tied to a file, a line and a key path so a technician can fix it.
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { CenterFile, type CenterConfig } from './schema.js';

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

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v: any = raw;
  for (const k of path) v = v == null ? undefined : v[k as any];
  return v;
}

function issueMessage(issue: z.core.$ZodIssue, raw: unknown): { path: PropertyKey[]; message: string }[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => ({
      path: [...issue.path, k],
      message: `unknown key "${k}": remove it or check its spelling (see docs/CONFIG.md)`,
    }));
  }
  if (issue.code === 'invalid_type' && valueAt(raw, issue.path) === undefined) {
    return [{ path: issue.path, message: `is missing: add it (${issue.message.replace(/^Invalid input: /, '')})` }];
  }
  let message = issue.message.replace(/^Invalid input: /, '');
  if (issue.code === 'too_small' && !/must/.test(message)) message = `is too small (${message.toLowerCase()}): raise it`;
  if (issue.code === 'too_big' && !/must/.test(message)) message = `is too big (${message.toLowerCase()}): lower it`;
  if (issue.code === 'invalid_value' && !/must/.test(message)) message = `${message.toLowerCase()}: use one of the listed values`;
  if (issue.code === 'invalid_type' && !/must/.test(message)) message = `has the wrong type (${message.toLowerCase()}): fix its value`;
  return [{ path: issue.path, message }];
}

/** Parses and validates a center file's text; never throws. */
export function checkCenterText(text: string, file: string): { config?: CenterConfig; problems: Problem[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  const problems: Problem[] = [];
  for (const e of doc.errors) {
    problems.push({
      file,
      line: e.linePos?.[0]?.line ?? 1,
      path: '',
      message: `YAML syntax error: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}: fix the indentation or quoting on this line`,
      severity: 'error',
    });
  }
  for (const w of doc.warnings) {
    problems.push({ file, line: w.linePos?.[0]?.line ?? 1, path: '', message: w.message.split('\n')[0] ?? '', severity: 'warning' });
  }
  if (problems.some((p) => p.severity === 'error')) return { problems };
  const raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const parsed = CenterFile.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const m of issueMessage(issue, raw)) {
        problems.push({ file, line: lineOf(doc, lc, m.path), path: formatPath(m.path), message: m.message, severity: 'error' });
      }
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
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const secrets = new Map<string, string>();
  const problems: Problem[] = [];
  const base = dirname(file);

  let fromFile: Record<string, unknown> = {};
  if (config.secrets) {
    const sfile = resolve(base, config.secrets);
    if (!existsSync(sfile)) {
      problems.push({
        file,
        line: lineOf(doc, lc, ['secrets']),
        path: 'secrets',
        message: `file ${sfile} does not exist: create it (device id: secret, one a line) or fix the path`,
        severity: 'error',
      });
    } else {
      const sdoc = parseDocument(readFileSync(sfile, 'utf8'));
      if (sdoc.errors.length) {
        problems.push({ file: sfile, line: sdoc.errors[0]!.linePos?.[0]?.line ?? 1, path: '', message: `YAML syntax error: ${sdoc.errors[0]!.message.split('\n')[0]}`, severity: 'error' });
      } else {
        fromFile = (sdoc.toJS() as Record<string, unknown>) ?? {};
      }
    }
  }

  const resolveOne = (
    owner: string,
    secret: CenterConfig['devices'][number]['secret'],
    path: (string | number)[],
  ): void => {
    const at = { file, line: lineOf(doc, lc, path), path: formatPath(path) };
    if (secret === undefined) {
      const v = fromFile[owner];
      if (typeof v === 'string' && v.length >= 8) secrets.set(owner, v);
      else if (config.secrets)
        problems.push({ ...at, message: `no secret for "${owner}" in ${config.secrets}: add a line "${owner}: <secret of 8+ characters>"`, severity: 'error' });
      return;
    }
    if (typeof secret === 'string') {
      secrets.set(owner, secret);
      return;
    }
    if ('env' in secret) {
      const v = env[secret.env];
      if (v && v.length >= 8) secrets.set(owner, v);
      else problems.push({ ...at, message: `environment variable ${secret.env} is ${v ? 'shorter than 8 characters' : 'not set'}: "${owner}" cannot log in until it is set`, severity: 'warning' });
      return;
    }
    const p = resolve(base, secret.file);
    try {
      const v = readFileSync(p, 'utf8').trim();
      if (v.length < 8) throw new Error('shorter than 8 characters');
      secrets.set(owner, v);
    } catch (e) {
      problems.push({ ...at, message: `secret file ${p} cannot be used (${(e as Error).message}): "${owner}" cannot log in until it is fixed`, severity: 'warning' });
    }
  };

  config.devices.forEach((d, i) => {
    if (d.transport.type === 'mqtt') resolveOne(d.id, d.secret, ['devices', i, 'secret']);
  });
  config.hub.users.forEach((u, i) => resolveOne(u.name, u.secret, ['hub', 'users', i, 'secret']));
  return { secrets, problems };
}

/** Everything `qhub check-config` prints; never throws. */
export function checkCenterFile(file: string, env: NodeJS.ProcessEnv = process.env): { loaded?: LoadedCenter; problems: Problem[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const what = err.code === 'ENOENT' ? 'file does not exist: check the path' : err.code === 'EACCES' ? 'cannot be read: check its permissions' : err.message;
    return { problems: [{ file, line: 0, path: '', message: what, severity: 'error' }] };
  }
  const { config, problems } = checkCenterText(text, file);
  if (!config) return { problems };
  const s = resolveSecrets(config, file, text, env);
  const all = [...problems, ...s.problems].sort((a, b) => a.line - b.line);
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
  const by = (k: string) => c.devices.filter((d) => d.kind === k).length;
  return (
    `${c.center.id}: ${c.services.length} services, ${c.windows.length} windows, ${c.devices.length} devices ` +
    `(${by('dispenser')} dispensers, ${by('keypad')} keypads, ${by('display')} window displays, ${by('board')} boards, ${by('speaker')} speakers), ` +
    `time zone ${c.center.timezone}, numbering restarts at ${c.center.day.rollover}`
  );
}
