/**
 * The live panel of a hall on a terminal (`qhub sim`): what the boards show,
 * what the speakers said, the queues, the windows and the devices, and the
 * last warnings — drawn as plain lines that fit the terminal. Pure: the
 * state in, the lines out (daemon/panel/terminal.ts puts them on screen).
 */

/** What the hub says about itself: the command table's `status`, `queues`, `windows` and `devices` answers (daemon/api/actions.ts). */
export interface PanelSnapshot {
  status?: {
    center: string;
    day: string | null;
    time: string;
    waiting: number;
    windows: { open: number; paused: number; closed: number };
    devices: { online: number; offline: string[] };
    fallbacks?: { kind: string; device: string; what: string }[];
  };
  queues?: { service: string; prefix: string; name?: Record<string, string>; waiting: number; longestWaitMin: number; next: string[] }[];
  windows?: { number: number; kind: string; status: string; reason?: string; current: { number: string; status: string } | null; waiting: number; served: number; services: string[] }[];
  devices?: { id: string; kind: string; online: boolean; why?: string; offlineSince?: string }[];
}

export interface BoardShows {
  rows: { t: string; w: number }[];
  flash: { t: string; w: number } | null;
}

export interface PanelState {
  /** The first line: the center and how to reach it. */
  title: string;
  /** The center's time zone (times are shown in it). */
  timeZone?: string;
  /** Under the title: where to look (addresses), how to leave. */
  hint: string;
  /** How calls are heard (the pack and the audio output), or that they are not. */
  voice: string;
  snapshot: PanelSnapshot;
  /** The hub did not answer the last read (shown instead of stale figures going unnoticed). */
  readError?: string;
  /** Every board of the hall, by device id, in config order (a board that showed nothing yet is there with no rows). */
  boards: Map<string, BoardShows | undefined>;
  /** The last thing each speaker was told to say, by device id. */
  said: Map<string, { text: string; at: number }>;
  /** The last tickets printed, newest last. */
  printed: { device: string; t: string; at: number }[];
  /** The last warnings and errors of the hub's log, newest last. */
  log: string[];
}

/** Characters a terminal gives no column (Arabic marks, joiners): they do not count towards a line's width. */
const ZERO_WIDTH = /[\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u200b-\u200f\u2066-\u2069]/u;

/** How many columns `s` takes (one per character but marks). */
export function width(s: string): number {
  let n = 0;
  for (const ch of s) if (!ZERO_WIDTH.test(ch)) n++;
  return n;
}

/** `s` cut to `cols` columns (an ellipsis marks the cut), or padded with spaces to them. */
export function fit(s: string, cols: number, pad = false): string {
  if (cols <= 0) return '';
  let out = '';
  let n = 0;
  const total = width(s);
  for (const ch of s) {
    const w = ZERO_WIDTH.test(ch) ? 0 : 1;
    if (total > cols && n + w > cols - 1) {
      out += '…';
      n++;
      break;
    }
    out += ch;
    n += w;
  }
  return pad && n < cols ? out + ' '.repeat(cols - n) : out;
}

/** A time of day, HH:MM:SS, in `timeZone` (else this machine's). */
export const clock = (ms: number, timeZone?: string) => new Date(ms).toLocaleTimeString('en-GB', { hour12: false, ...(timeZone ? { timeZone } : {}) });

/** The hub's ISO time as the center's wall clock, with the zone's name. */
function localTime(iso: string, timeZone?: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : `${clock(ms, timeZone)}${timeZone ? ` ${timeZone}` : ''}`;
}

/** Columns laid out left to right with the widths given (the last one takes what is left). */
function cols(cells: string[], widths: number[], total: number): string {
  let line = '';
  cells.forEach((c, i) => {
    const w = i === cells.length - 1 ? Math.max(0, total - width(line)) : widths[i]!;
    line += i === cells.length - 1 ? fit(c, w) : fit(c, w - 1, true) + ' ';
  });
  return fit(line, total);
}

/**
 * The panel as `rows` lines of at most `cols` columns. Sections shrink from
 * the bottom up when the terminal is small; a list that does not fit says
 * how many more there are.
 */
export function renderPanel(s: PanelState, columns: number, rows: number): string[] {
  const W = Math.max(20, columns);
  const out: string[] = [];
  const rule = (label: string) => {
    const head = fit(`── ${label} `, W);
    return head + '─'.repeat(Math.max(0, W - width(head)));
  };
  const st = s.snapshot.status;
  out.push(fit(s.title, W));
  out.push(fit(s.hint, W));
  if (s.readError) out.push(fit(`!! the hub did not answer: ${s.readError}`, W));
  else if (st)
    out.push(
      fit(
        `day ${st.day ?? '(not started)'}  ${localTime(st.time, s.timeZone)}   waiting ${st.waiting}   windows ${st.windows.open} open, ${st.windows.paused} paused, ${st.windows.closed} closed   devices ${st.devices.online} online, ${st.devices.offline.length} offline`,
        W,
      ),
    );

  // Each section: its heading and its lines; fitted to the height at the end.
  const sections: { label: string; lines: string[]; min: number }[] = [];

  const boardLines: string[] = [];
  const idW = Math.min(18, Math.max(8, ...[...s.boards.keys(), ...s.said.keys()].map((k) => width(k) + 2)));
  for (const [id, b] of s.boards) {
    const shown = b?.rows.length ? b.rows.map((r) => `${r.t} → ${r.w}`).join('  │  ') : '—';
    boardLines.push(cols([id, `${b?.flash ? `▶ ${b.flash.t} → ${b.flash.w}   ` : ''}${shown}`], [idW], W));
  }
  if (boardLines.length) sections.push({ label: 'BOARDS (what the hall sees)', lines: boardLines, min: 1 });

  const voiceLines = [fit(s.voice, W)];
  for (const [id, x] of s.said) voiceLines.push(cols([id, `${clock(x.at, s.timeZone)}  ${x.text}`], [idW], W));
  sections.push({ label: 'SPEAKERS (what the hall hears)', lines: voiceLines, min: 1 });

  const q = s.snapshot.queues ?? [];
  if (q.length) {
    const lines = [cols(['service', 'waiting', 'longest', 'next numbers'], [22, 9, 11], W)];
    for (const x of q) lines.push(cols([`${x.service} (${x.prefix})`, String(x.waiting), `${x.longestWaitMin} min`, x.next.join(' ') || '—'], [22, 9, 11], W));
    sections.push({ label: 'QUEUES', lines, min: 2 });
  }

  const w = s.snapshot.windows ?? [];
  if (w.length) {
    // Two windows a line on a wide terminal: 20 windows fit in 10 lines.
    const per = W >= 110 ? 2 : 1;
    const cw = Math.floor(W / per);
    const cell = (x: (typeof w)[number]) =>
      cols([`${x.number}`, x.status + (x.reason ? ` (${x.reason})` : ''), x.current ? `${x.current.number} ${x.current.status}` : '·', `${x.waiting} wait`, `${x.served} served`], [4, 16, 16, 9], cw - 1);
    const lines: string[] = [];
    for (let i = 0; i < w.length; i += per) lines.push(fit(w.slice(i, i + per).map((x) => fit(cell(x), cw - 1, true)).join(' '), W));
    sections.push({ label: 'WINDOWS (number, state, at the window, waiting for it, served today)', lines, min: 1 });
  }

  const d = s.snapshot.devices ?? [];
  if (d.length || st) {
    const off = d.filter((x) => !x.online);
    const lines = [fit(`${d.length - off.length} of ${d.length} online${off.length ? `; offline: ${off.map((x) => `${x.id}${x.why ? ` (${x.why})` : ''}`).join(', ')}` : ''}`, W)];
    for (const f of st?.fallbacks ?? []) lines.push(fit(`fallback: ${f.kind} ${f.device} down: ${f.what}`, W));
    if (s.printed.length) lines.push(fit(`printed: ${s.printed.slice(-6).map((p) => `${p.t} (${p.device} ${clock(p.at, s.timeZone)})`).join('  ')}`, W));
    sections.push({ label: 'DEVICES', lines, min: 1 });
  }

  sections.push({ label: 'LOG (warnings and errors; the whole log is in the file named above)', lines: s.log.length ? s.log.map((l) => fit(l, W)) : [fit('nothing to report', W)], min: 1 });

  // Fit the height: every section gets its heading and its minimum, then lines in order while they last.
  let room = Math.max(0, rows - out.length - sections.length);
  const give = sections.map((x) => Math.min(x.min, x.lines.length));
  room -= give.reduce((a, b) => a + b, 0);
  sections.forEach((x, i) => {
    const more = Math.max(0, Math.min(x.lines.length - give[i]!, room));
    give[i]! += more;
    room -= more;
  });
  sections.forEach((x, i) => {
    out.push(rule(x.label));
    const n = give[i]!;
    // The log keeps its newest lines; the others their first.
    const shown = x === sections.at(-1) ? x.lines.slice(-Math.max(n, 0) || x.lines.length) : x.lines.slice(0, n);
    // A cut list says how much it left out, in its last line shown (a section shown in one line keeps that line: its summary).
    if (n < x.lines.length && n > 1 && x !== sections.at(-1)) shown[n - 1] = fit(`… ${x.lines.length - n + 1} more`, W);
    out.push(...(n > 0 ? shown : []));
  });
  return out.slice(0, Math.max(rows, 1));
}
