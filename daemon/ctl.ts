/**
 * The technician's command line against the running daemon, over its local
 * socket (daemon/api/socket.ts): the same command table as the HTTP API,
 * as the technician (root or the service's group).
 *
 *   qhub status | devices | queues | windows        what the hub sees now
 *   qhub window N [open|close|pause [REASON]|next|recall|start|done|noshow|park|resume T|call T|inquiry NUMBER|transfer SERVICE [--back]]
 *   qhub assign N SERVICE[,SERVICE...]              which services window N calls, in order
 *   qhub ticket T | return T | cancel T [REASON] | issue SERVICE [--print DEV] | reprint T [--device DEV]
 *
 * Readable tables on a terminal, `--json` for scripts. Exit codes: 0 done,
 * 1 refused by the hub (the reason is printed), 2 wrong usage, 3 the daemon
 * is not running, 4 no permission on the socket.
 */
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkCenterFile } from '../config/load.js';

export const EXIT = { ok: 0, refused: 1, usage: 2, notRunning: 3, permission: 4 } as const;

export const CTL_COMMANDS = ['reload', 'selftest', 'alerts', 'status', 'devices', 'queues', 'windows', 'window', 'assign', 'ticket', 'return', 'cancel', 'issue', 'reprint'] as const;

const HELP: Record<string, string> = {
  reload: 'qhub reload [--json]                       re-read the config file: devices, windows, services, users, voice change live; a bad file is refused',
  selftest: 'qhub selftest [--json]                     the morning check of every device; exit 1 when one did not answer (named)',
  alerts: 'qhub alerts [--json]                       the alerts open now (devices missing or failing in opening hours, queues over threshold)',
  status: 'qhub status [--json]                       the business day, devices online, people waiting, windows open',
  devices: 'qhub devices [--json]                      every device: online or not, since when, why, faults, last seen, reconnects and refused requests today',
  queues: 'qhub queues [--json]                       every service: waiting, longest wait, next numbers',
  windows: 'qhub windows [--json]                      every window: state, citizen at it, waiting, served today',
  window: `qhub window N [ACTION] [--json]            show window N, or act on it (when its keypad is dead):
    open | close | pause [REASON] | next | recall | start | done | noshow | park
    resume TICKET | call TICKET | inquiry NUMBER | transfer SERVICE [--back]`,
  assign: 'qhub assign N SERVICE[,SERVICE...]        window N calls these services, in this order (an absent colleague); kept across restarts',
  ticket: 'qhub ticket NUMBER                         one ticket of today',
  return: 'qhub return TICKET                         a no-show came back within the grace time',
  cancel: 'qhub cancel TICKET [REASON]                cancel a waiting, parked or no-show ticket',
  issue: 'qhub issue SERVICE [--print DISPENSER]     a ticket on a citizen’s behalf (dispenser down)',
  reprint: 'qhub reprint TICKET [--device DISPENSER]  print a ticket again',
};

export const CTL_USAGE = `commands for the running hub (over its local socket; root or the qhub group):
${Object.values(HELP)
  .map((h) => `  ${h}`)
  .join('\n')}
options: --json (machine-readable), --socket PATH, --config FILE, --data DIR
exit codes: 0 done, 1 refused by the hub, 2 wrong usage, 3 the daemon is not running, 4 no permission on the socket`;

interface Answer {
  ok: boolean;
  result?: unknown;
  status?: number;
  error?: string;
  message?: string;
}

class CtlError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Where the daemon's socket is: --socket, $QHUB_SOCKET, hub.socket of the config, else <data dir>/qhub.sock. */
export function findSocket(o: { socket?: string; config: string; data?: string }): string {
  if (o.socket) return resolve(o.socket);
  if (process.env.QHUB_SOCKET) return resolve(process.env.QHUB_SOCKET);
  const { loaded } = existsSync(o.config) ? checkCenterFile(o.config) : { loaded: undefined };
  const hub = loaded?.config.hub;
  if (hub?.socket) return resolve(hub.socket);
  return join(resolve(o.data ?? process.env.QHUB_DATA ?? hub?.dataDir ?? 'data'), 'qhub.sock');
}

export function ask(path: string, action: string, input: Record<string, unknown>, timeoutMs = 15_000): Promise<Answer> {
  return new Promise((resolvePromise, reject) => {
    const s = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new CtlError(EXIT.notRunning, `${path}: the hub did not answer within ${timeoutMs / 1000} s (is it stuck? systemctl status qhub)`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${JSON.stringify({ id: 1, action, input, as: process.env.SUDO_USER || safeUser() })}\n`));
    s.on('data', (d: string) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i < 0) return;
      clearTimeout(timer);
      s.end();
      try {
        resolvePromise(JSON.parse(buf.slice(0, i)) as Answer);
      } catch {
        reject(new CtlError(EXIT.refused, 'the hub answered something that is not JSON'));
      }
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED')
        reject(new CtlError(EXIT.notRunning, `the hub is not running (no answer on ${path}): start it with systemctl start qhub (or qhub start), or pass --data/--socket if it runs elsewhere`));
      else if (e.code === 'EACCES' || e.code === 'EPERM')
        reject(new CtlError(EXIT.permission, `${path}: permission denied: run as root (sudo qhub ...) or as a member of the qhub group`));
      else reject(new CtlError(EXIT.notRunning, `${path}: ${e.message}`));
    });
  });
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** A table with aligned columns. */
function table(rows: (string | number | undefined | null)[][], head: string[]): string {
  const cells = [head, ...rows.map((r) => r.map((c) => (c === undefined || c === null || c === '' ? '-' : String(c))))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => [...(r[i] ?? '')].length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - [...c].length))).join('  ')).join('\n');
}

type Any = Record<string, any>;

function show(action: string, r: unknown): string {
  const x = r as Any;
  switch (action) {
    case 'status':
      return [
        `${x.center}  business day ${x.day ?? '(not started)'}  event ${x.seq}`,
        `waiting: ${x.waiting}`,
        `windows: ${x.windows.open} open, ${x.windows.paused} paused, ${x.windows.closed} closed`,
        `devices: ${x.devices.online} online, ${x.devices.offline.length} offline${x.devices.offline.length ? ` (${x.devices.offline.join(', ')})` : ''}`,
        ...((x.fallbacks ?? []) as Any[]).map((f) => `fallback: ${f.kind} ${f.device} down since ${f.since}: ${f.what}`),
      ].join('\n');
    case 'devices':
      return table(
        (r as Any[]).map((d) => [d.id, d.kind, d.model, d.fw, d.transport, d.online ? 'online' : 'OFFLINE', d.online ? d.since : d.offlineSince, d.health?.lastSeen, d.health?.reconnectsToday, d.health?.errorsToday, d.online ? (d.faults ?? []).join(',') : d.why]),
        ['device', 'kind', 'model', 'fw', 'via', 'state', 'since', 'last seen', 'reconnects', 'errors', 'faults / why'],
      );
    case 'queues':
      return table(
        (r as Any[]).map((q) => [q.service, q.prefix, q.waiting, q.longestWaitMin, q.next.join(' '), q.windows.map((w: Any) => `${w.number}${w.status === 'open' ? '' : `(${w.status})`}`).join(' ')]),
        ['service', 'prefix', 'waiting', 'longest min', 'next', 'windows'],
      );
    case 'windows':
      return table(
        (r as Any[]).map((w) => [w.number, w.kind, w.status + (w.reason ? ` (${w.reason})` : ''), w.current ? `${w.current.number} ${w.current.status}` : '', w.waiting, w.served, w.services.join(',')]),
        ['window', 'kind', 'state', 'at the window', 'waiting', 'served', 'services'],
      );
    case 'window':
      return windowLines(x);
    case 'hub.selftest':
      return [
        table((x.devices as Any[]).map((d) => [d.device, d.kind, d.answered ? 'ok' : 'NO ANSWER', d.why ?? d.how]), ['device', 'kind', 'answer', 'how / why']),
        x.ok ? `all ${x.devices.length} devices answered` : `${x.missing.length} of ${x.devices.length} did not answer: ${(x.missing as Any[]).map((m) => m.device).join(', ')}`,
        ...(x.file ? [`report kept in the data directory: ${x.file}`] : []),
      ].join('\n');
    case 'alerts':
      return (r as Any[]).length ? table((r as Any[]).map((a) => [a.since, a.kind, a.device ?? a.service, a.message]), ['since', 'kind', 'what', 'message']) : 'no alert open';
    case 'hub.reload':
      return `${x.ok ? 'reloaded' : 'reloaded in part'}: ${x.summary}${x.failed?.length ? `\nnot taken by: ${x.failed.map((f: Any) => `${f.module} (${f.error})`).join(', ')}` : ''}${x.waitForRestart?.length ? `\nthese changes wait for a restart (systemctl restart qhub): ${x.waitForRestart.join(', ')}` : ''}`;
    case 'ticket':
      return ticketLine(x);
    default: {
      const lines: string[] = [];
      if (x.duplicate) lines.push('(already done: this is the first answer again)');
      if (x.ticket) lines.push(ticketLine(x.ticket));
      if (x.window) lines.push(windowLines(x.window));
      if (x.printed) lines.push(x.printed.device ? `printed on ${x.printed.device}` : `not printed: ${x.printed.message}`);
      if (x.device && !x.window) lines.push(`sent to ${x.device}`);
      return lines.join('\n') || 'done';
    }
  }
}

function windowLines(w: Any): string {
  return `window ${w.number} (${w.kind}): ${w.status}${w.reason ? ` (${w.reason})` : ''}; ${w.current ? `${w.current.number} ${w.current.status}` : 'nobody at the window'}; ${w.waiting} waiting for ${w.services.join(', ')}; ${w.served} served today`;
}

function ticketLine(t: Any): string {
  return `${t.number} (${t.service}) ${t.status}${t.window ? ` at window ${t.window}` : ''}${t.status === 'waiting' ? `, ${t.ahead} ahead, waiting ${t.waitingMin} min` : ''}`;
}

const WINDOW_ACTIONS: Record<string, { action: string; arg?: string }> = {
  open: { action: 'windows.open' },
  close: { action: 'windows.close' },
  pause: { action: 'windows.pause', arg: 'reason?' },
  next: { action: 'windows.next' },
  recall: { action: 'windows.recall' },
  start: { action: 'windows.start' },
  done: { action: 'windows.done' },
  noshow: { action: 'windows.noShow' },
  park: { action: 'windows.park' },
  resume: { action: 'windows.resume', arg: 'ticket' },
  call: { action: 'windows.call', arg: 'ticket' },
  inquiry: { action: 'windows.callInquiry', arg: 'inquiry' },
  transfer: { action: 'windows.transfer', arg: 'service' },
};

/** The action and input a command line stands for, or a usage error. */
function parse(cmd: string, pos: string[], opts: { back?: boolean; print?: string; device?: string }): { action: string; input: Record<string, unknown> } {
  const need = (i: number, what: string) => {
    const v = pos[i];
    if (v === undefined || v === '') throw new CtlError(EXIT.usage, `qhub ${cmd}: ${what} is missing\n  ${HELP[cmd]}`);
    return v;
  };
  const windowNo = (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new CtlError(EXIT.usage, `qhub ${cmd}: "${v}" is not a window number\n  ${HELP[cmd]}`);
    return n;
  };
  switch (cmd) {
    case 'status':
    case 'devices':
    case 'queues':
    case 'windows':
      return { action: cmd, input: {} };
    case 'reload':
      return { action: 'hub.reload', input: {} };
    case 'selftest':
      return { action: 'hub.selftest', input: {} };
    case 'alerts':
      return { action: 'alerts', input: {} };
    case 'window': {
      const window = windowNo(need(0, 'the window number'));
      const verb = pos[1];
      if (!verb) return { action: 'window', input: { window } };
      const a = WINDOW_ACTIONS[verb.toLowerCase()];
      if (!a) throw new CtlError(EXIT.usage, `qhub window: unknown action "${verb}"\n  ${HELP.window}`);
      const input: Record<string, unknown> = { window };
      if (a.arg === 'reason?') {
        if (pos.length > 2) input.reason = pos.slice(2).join(' ');
      } else if (a.arg) input[a.arg] = need(2, a.arg);
      if (verb === 'transfer' && opts.back) input.position = 'back';
      return { action: a.action, input };
    }
    case 'assign':
      return { action: 'windows.assign', input: { window: windowNo(need(0, 'the window number')), services: need(1, 'the services').split(',').map((s) => s.trim()).filter(Boolean) } };
    case 'ticket':
      return { action: 'ticket', input: { ticket: need(0, 'the ticket number') } };
    case 'return':
      return { action: 'tickets.return', input: { ticket: need(0, 'the ticket number') } };
    case 'cancel':
      return { action: 'tickets.cancel', input: { ticket: need(0, 'the ticket number'), ...(pos.length > 1 ? { reason: pos.slice(1).join(' ') } : {}) } };
    case 'issue':
      return { action: 'tickets.issue', input: { service: need(0, 'the service'), ...(opts.print ? { print: opts.print } : {}) } };
    case 'reprint':
      return { action: 'tickets.reprint', input: { ticket: need(0, 'the ticket number'), ...(opts.device ? { device: opts.device } : {}) } };
  }
  throw new CtlError(EXIT.usage, CTL_USAGE);
}

export async function ctlCommand(cmd: string, args: string[], configPath: (given?: string) => string): Promise<number> {
  let values: { json?: boolean; socket?: string; config?: string; data?: string; back?: boolean; print?: string; device?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: {
        json: { type: 'boolean' },
        socket: { type: 'string' },
        config: { type: 'string' },
        data: { type: 'string' },
        back: { type: 'boolean' },
        print: { type: 'string' },
        device: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (e) {
    console.error(`qhub ${cmd}: ${(e as Error).message}\n  ${HELP[cmd] ?? ''}`);
    return EXIT.usage;
  }
  if (values.help) {
    console.log(`  ${HELP[cmd]}\noptions: --json, --socket PATH, --config FILE, --data DIR`);
    return EXIT.ok;
  }
  try {
    const { action, input } = parse(cmd, positionals, values);
    const path = findSocket({ socket: values.socket, config: configPath(values.config), data: values.data });
    const r = await ask(path, action, input, action === 'hub.selftest' ? 300_000 : 15_000);
    if (values.json) console.log(JSON.stringify(r.ok ? r.result : { error: r.error, message: r.message, status: r.status }, null, 2));
    if (!r.ok) {
      if (!values.json) console.error(`refused (${r.error}): ${r.message}`);
      return EXIT.refused;
    }
    if (!values.json) console.log(show(action, r.result));
    // The morning check: something that did not answer is a failure the caller (cron, a script) must see.
    if (action === 'hub.selftest' && !(r.result as { ok: boolean }).ok) return EXIT.refused;
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CtlError) {
      console.error(e.message);
      return e.code;
    }
    throw e;
  }
}

/**
 * `qhub backup` through the running hub: the hub that owns the store takes
 * the backup (the `hub.backup` action over its socket). Returns the exit
 * code, or undefined when no hub answers (the caller then copies the store
 * file itself, as with the hub stopped).
 */
export async function backupThroughHub(args: string[], configPath: (given?: string) => string): Promise<number | undefined> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' }, config: { type: 'string' }, data: { type: 'string' }, socket: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) return undefined;
  const path = findSocket({ ...(values.socket ? { socket: values.socket } : {}), config: configPath(values.config), ...(values.data ? { data: values.data } : {}) });
  let a: Answer;
  try {
    a = await ask(path, 'hub.backup', values.out ? { out: resolve(values.out) } : {});
  } catch (e) {
    if (e instanceof CtlError && e.code === EXIT.notRunning && !/did not answer/.test(e.message)) return undefined;
    console.error(`qhub backup: ${(e as Error).message}`);
    return e instanceof CtlError ? e.code : EXIT.refused;
  }
  if (!a.ok) {
    console.error(`qhub backup: the running hub refused: ${a.message ?? a.error}`);
    return EXIT.refused;
  }
  const r = a.result as { file: string; bytes: number; events: number; lastSeq: number; ms: number };
  if (values.json) console.log(JSON.stringify({ ...r, by: 'hub' }));
  else console.log(`${r.file}: ${r.events} events up to #${r.lastSeq}, ${(r.bytes / 1024).toFixed(0)} KiB, integrity checked (${r.ms} ms); taken by the running hub`);
  return EXIT.ok;
}
