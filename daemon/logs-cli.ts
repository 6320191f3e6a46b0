/**
 * `qhub logs [--file F] [--device ID] [--level debug|info|warn|error] [--lines N] [--follow] [--json]`
 *
 * The hub's journal, readable: JSON lines from `journalctl -u qhub -o cat`
 * (or a file) through the pretty printer bundled with qhub (pino-pretty: no
 * npx, nothing fetched), filtered by device and level.
 */
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, statSync, watchFile } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

const USAGE = `usage: qhub logs [--file FILE] [--device ID] [--level debug|info|warn|error] [--lines N] [--follow] [--json]
  the hub's journal (journalctl -u qhub), or FILE of JSON log lines, made readable; --device keeps the lines about one device,
  --level the lines at that level and above; --follow goes on with new lines; --json prints the matching lines as they are`;

export async function logsCommand(args: string[]): Promise<number> {
  let v: { file?: string; device?: string; level?: string; lines?: string; follow?: boolean; json?: boolean; help?: boolean; unit?: string };
  try {
    v = parseArgs({ args, options: { file: { type: 'string' }, device: { type: 'string' }, level: { type: 'string' }, lines: { type: 'string' }, follow: { type: 'boolean', short: 'f' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, unit: { type: 'string' } }, strict: true }).values;
  } catch (e) {
    console.error(`qhub logs: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const min = v.level ? LEVELS[v.level] : 0;
  if (min === undefined) {
    console.error(`qhub logs: --level must be one of ${Object.keys(LEVELS).join(', ')}`);
    return 2;
  }
  const lines = Number(v.lines ?? 200);
  const { prettyFactory } = await import('pino-pretty');
  const pretty = prettyFactory({ colorize: process.stdout.isTTY, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss', ignore: 'pid,hostname', singleLine: true });
  const keep = (j: Record<string, unknown>) =>
    (typeof j.level !== 'number' || j.level >= min) &&
    (!v.device || j.device === v.device || j.client === v.device || (Array.isArray(j.devices) && j.devices.includes(v.device)) || (Array.isArray(j.clients) && j.clients.includes(v.device)));
  const out = (line: string) => {
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(line) as Record<string, unknown>;
    } catch {
      if (!v.device && !min && line.trim()) process.stdout.write(`${line}\n`); // not a log line (a crash trace): shown as it is
      return;
    }
    if (!keep(j)) return;
    process.stdout.write(v.json ? `${line}\n` : pretty(j));
  };

  if (v.file) {
    if (!existsSync(v.file)) {
      console.error(`${v.file}: no such file`);
      return 1;
    }
    const rl = createInterface({ input: createReadStream(v.file, { encoding: 'utf8' }) });
    for await (const line of rl) out(line);
    if (!v.follow) return 0;
    let size = statSync(v.file).size;
    watchFile(v.file, { interval: 500 }, (cur) => {
      if (cur.size <= size) return void (size = cur.size);
      const from = size;
      size = cur.size;
      const r = createInterface({ input: createReadStream(v.file!, { encoding: 'utf8', start: from }) });
      r.on('line', out);
    });
    return new Promise<number>(() => undefined);
  }
  const jargs = ['-u', v.unit ?? 'qhub', '-o', 'cat', '--no-pager', '-n', String(lines), ...(v.follow ? ['-f'] : [])];
  return new Promise<number>((resolve) => {
    const p = spawn('journalctl', jargs, { stdio: ['ignore', 'pipe', 'inherit'] });
    p.on('error', (e: NodeJS.ErrnoException) => {
      console.error(e.code === 'ENOENT' ? 'journalctl not found: this machine has no systemd journal; give the log with --file FILE' : `journalctl: ${e.message}`);
      resolve(1);
    });
    createInterface({ input: p.stdout! }).on('line', out);
    p.on('exit', (code) => resolve(code ?? 0));
  });
}
