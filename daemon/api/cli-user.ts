/**
 * `qhub user add NAME --role ROLE [--windows 1,2] [--password-stdin] [--config FILE]`
 * `qhub user remove NAME [--config FILE]`, `qhub user list [--config FILE]`
 *
 * Writes people into the center's config file (hub.users), keeping its
 * comments and layout; the password is stored only as a scrypt hash. Works
 * with the daemon stopped or running (a running hub takes the change at its
 * next reload or restart).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { isMap, isSeq, parseDocument, type YAMLMap } from 'yaml';
import { checkCenterFile, formatProblem } from '../../config/load.js';
import { ROLES } from '../../contract/roles.js';
import { hashPassword } from './auth.js';

const USAGE = `usage:
  qhub user add NAME --role supervisor|clerk|reception|viewer [--windows 1,2] [--password-stdin] [--config FILE]
  qhub user remove NAME [--config FILE]
  qhub user list [--config FILE]
Without --password-stdin, a terminal is asked for the password twice; with no terminal, a random password is made and printed once.`;

async function readPassword(stdin: boolean): Promise<{ password: string; generated: boolean }> {
  if (stdin) {
    const text = readFileSync(0, 'utf8').split('\n')[0] ?? '';
    return { password: text.replace(/\r$/, ''), generated: false };
  }
  if (!process.stdin.isTTY) return { password: randomBytes(9).toString('base64url'), generated: true };
  const ask = (q: string) =>
    new Promise<string>((resolve) => {
      const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
      const w = (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput;
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => (s.startsWith(q) ? w.call(rl, s) : undefined);
      rl.question(q, (a) => {
        rl.close();
        process.stdout.write('\n');
        resolve(a);
      });
    });
  const a = await ask('password: ');
  const b = await ask('again: ');
  if (a !== b) throw new Error('the two passwords differ: nothing was changed');
  return { password: a, generated: false };
}

function save(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o640 });
  renameSync(tmp, file);
}

export async function userCommand(args: string[], configPath: (given?: string) => string): Promise<number> {
  if (args[0] === '--help' || args[0] === '-h' || args[0] === 'help') {
    console.log(USAGE);
    return 0;
  }
  const [verb, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { role: { type: 'string' }, windows: { type: 'string' }, 'password-stdin': { type: 'boolean' }, config: { type: 'string' }, help: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help || !verb) {
    console.log(USAGE);
    return values.help ? 0 : 1;
  }
  const file = configPath(values.config);
  const doc = parseDocument(readFileSync(file, 'utf8'));
  const users = () => doc.getIn(['hub', 'users']) as unknown;
  const list = (): YAMLMap[] => {
    const u = users();
    return isSeq(u) ? (u.items.filter((x) => isMap(x)) as YAMLMap[]) : [];
  };
  if (verb === 'list') {
    for (const u of list()) {
      const w = u.get('windows');
      console.log(`${String(u.get('name'))}\t${String(u.get('role'))}${w ? `\twindows ${JSON.stringify((w as { toJSON(): unknown }).toJSON?.() ?? w)}` : ''}\t${u.get('password') ? 'password set' : 'no password'}`);
    }
    return 0;
  }
  const name = positionals[0];
  if (!name || !/^[a-z0-9][a-z0-9_-]{0,47}$/.test(name)) {
    console.error(`qhub user ${verb}: give a user name of lowercase letters, digits, "-" or "_" (e.g. "ahmed")\n${USAGE}`);
    return 2;
  }
  if (verb === 'remove') {
    const i = list().findIndex((u) => u.get('name') === name);
    if (i < 0) {
      console.error(`${file}: no user "${name}"`);
      return 1;
    }
    doc.deleteIn(['hub', 'users', i]);
    save(file, doc.toString());
    console.log(`${file}: user "${name}" removed; a running hub forgets the user at its next reload (qhub reload) or restart`);
    return 0;
  }
  if (verb !== 'add') {
    console.error(`qhub user: unknown "${verb}"\n${USAGE}`);
    return 2;
  }
  const role = values.role;
  if (!role || !(ROLES as readonly string[]).includes(role)) {
    console.error(`--role must be one of ${ROLES.join(', ')}`);
    return 2;
  }
  const windows = values.windows?.split(',').map((x) => Number(x.trim()));
  if (windows?.some((w) => !Number.isInteger(w) || w < 1)) {
    console.error('--windows: window numbers separated by commas, e.g. --windows 2,3');
    return 2;
  }
  if (role === 'clerk' && !windows) {
    console.error('a clerk is bound to windows: add --windows N[,N...]');
    return 2;
  }
  const { password, generated } = await readPassword(!!values['password-stdin']);
  if (password.length < 8) {
    console.error('the password must have at least 8 characters: nothing was changed');
    return 2;
  }
  const entry = { name, role, ...(windows && role === 'clerk' ? { windows } : {}), password: await hashPassword(password) };
  const at = list().findIndex((u) => u.get('name') === name);
  if (!isSeq(users())) doc.setIn(['hub', 'users'], doc.createNode([]));
  const node = doc.createNode(entry);
  if (windows && role === 'clerk') (node.get('windows', true) as { flow?: boolean }).flow = true;
  if (at >= 0) {
    // Keep what the entry had besides these keys (e.g. an MQTT secret).
    const old = list()[at]!;
    for (const k of ['role', 'windows', 'password']) old.delete(k);
    for (const p of node.items) old.set(p.key, p.value);
  } else doc.addIn(['hub', 'users'], node);
  const text = doc.toString();
  // Refuse to write a file the hub would not start with.
  const tmpCheck = `${file}.check-${process.pid}.yaml`;
  writeFileSync(tmpCheck, text);
  try {
    const { loaded, problems } = checkCenterFile(tmpCheck);
    if (!loaded) {
      for (const p of problems.filter((x) => x.severity === 'error')) console.error(formatProblem({ ...p, file: p.file === tmpCheck ? file : p.file }));
      console.error(`${file}: not changed (the result would not load)`);
      return 1;
    }
  } finally {
    try {
      (await import('node:fs')).unlinkSync(tmpCheck);
    } catch {
      /* gone */
    }
  }
  save(file, text);
  console.log(`${file}: user "${name}" ${at >= 0 ? 'updated' : 'added'} (${role}${windows && role === 'clerk' ? `, windows ${windows.join(',')}` : ''}); a running hub takes it at its next reload (qhub reload) or restart`);
  if (generated) console.log(`password: ${password}   (shown once: give it to ${name}; it is stored only as a hash)`);
  return 0;
}
