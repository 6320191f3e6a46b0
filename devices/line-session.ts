/**
 * What every device on qhub's ASCII line protocol shares
 * (docs/LINE-PROTOCOL.md): the HELLO that makes it online, the PING that
 * keeps it so, numbered requests whose retries are recognised, and the
 * refusal of lines it should not send. The keypad, window display and
 * board models (line-*.ts) add what their lines mean.
 */
import { randomBytes } from 'node:crypto';
import type { OutMessage } from '../contract/devices.js';
import { LineReader, lineFrame, MAX_LINE, parseLine } from '../drivers/lines.js';
import type { InLeaf, WiredDevice, WiredIo } from './model.js';

const PING_MS = 10_000;
/** Missed answers to PING before the device counts as gone. */
const MISSES = 3;

export interface LineModel {
  model: string;
  /** A request line (already split, after HELLO) → a protocol request, or a refusal. */
  request?(fields: string[]): { leaf: InLeaf; body: Record<string, unknown> } | { error: string };
  /** A hub message → the lines that show it (keyed: only the newest of a key waits while the device is away). */
  render(m: OutMessage): { key?: string; fields: (string | number)[] }[];
}

export function openLineDevice(io: WiredIo, m: LineModel): WiredDevice {
  const line = io.line();
  let hello: { model: string; fw: string } | undefined;
  let session = '';
  let missed = 0;
  const stats = { lines: 0, refused: 0, requests: 0 };
  /** The request number of a reply (`re` = this session's id of it); undefined for another session's or none. */
  const numberOf = (re: unknown): string | undefined => (typeof re === 'string' && session && re.startsWith(`${session}-`) ? re.slice(session.length + 1) : undefined);

  const write = (fields: (string | number)[], key?: string) => {
    let frame: Buffer;
    try {
      frame = lineFrame(fields);
    } catch (e) {
      return io.log.error({ err: (e as Error).message }, 'line not sent');
    }
    line.write(frame, key ? { key } : {}).catch((e: Error) => io.log.debug({ err: e.message }, 'line not delivered'));
  };
  const refuse = (n: string, code: string, why: string) => {
    stats.refused++;
    // The message is the rest of the line: as much of it as the line's length allows.
    const head = `ERR ${n} ${code} `;
    write(['ERR', n, code, why.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_LINE - head.length)]);
  };

  const onLine = (raw: string) => {
    stats.lines++;
    missed = 0;
    const p = parseLine(raw);
    if (!p.ok) return refuse('-', 'bad_line', p.why);
    const [verb, ...rest] = p.fields;
    if (!verb) return;
    if (verb === 'HELLO') {
      hello = { model: rest[0] ?? m.model, fw: rest[1] ?? '?' };
      // A swapped cable shows here: the device says it is something else than the config says.
      if (hello.model !== m.model) io.log.warn({ says: hello.model, configured: m.model }, `device introduces itself as ${hello.model} but is configured as ${m.model}: check which cable is on ${line.path}`);
      // A new session per HELLO: a device that restarts counts its requests from 1 again.
      session = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
      io.online({ model: hello.model, fw: hello.fw });
      io.wantsState();
      return;
    }
    if (verb === 'PONG') return;
    if (!hello) return write(['WHO?']);
    if (!m.request) return refuse('-', 'unknown_line', `this ${m.model} sends no requests`);
    const n = rest[0];
    if (!n || !/^[1-9][0-9]{0,4}$/.test(n)) return refuse('-', 'bad_line', 'a request is <letter> <number 1-99999> ...');
    const r = m.request([verb, ...rest.slice(1)]);
    if ('error' in r) return refuse(n, 'bad_line', r.error);
    stats.requests++;
    io.request(r.leaf, { v: 1, id: `${session}-${n}`, ...r.body }).catch((e: Error) => refuse(n, 'busy', e.message));
  };
  const reader = new LineReader(line, onLine, () => refuse('-', 'bad_line', 'line too long'));

  const ping = setInterval(() => {
    if (!line.isOpen) return;
    // Offline once MISSES pings in a row went unanswered (checked at the tick after the last one).
    if (hello && ++missed > MISSES) {
      hello = undefined;
      io.offline(`no answer to ${MISSES} PINGs`);
    }
    write(hello ? ['PING'] : ['WHO?']);
  }, PING_MS);
  ping.unref();
  const offState = line.onState((up) => {
    if (up) return write(['WHO?']);
    hello = undefined;
    io.offline('serial port closed (cable pulled?)');
  });

  return {
    send(msg) {
      const re = numberOf('re' in msg.body ? msg.body.re : undefined);
      if (msg.leaf === 'error') return refuse(re ?? '-', msg.body.code, msg.body.message);
      if (re !== undefined) write(['OK', re]);
      for (const l of m.render(msg)) write(l.fields, l.key);
    },
    async stop() {
      clearInterval(ping);
      offState();
      reader.close();
    },
    health: () => ({ hello: hello ?? null, ...stats }),
  };
}

/** `-` for nothing, the value otherwise; fields never contain spaces. */
export const field = (v: unknown): string => (v === null || v === undefined || v === '' ? '-' : String(v).replace(/\s+/g, '_'));
