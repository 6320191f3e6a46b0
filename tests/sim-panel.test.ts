/**
 * `qhub sim`'s live panel of the hall, on a real terminal: tmux runs the
 * compiled `qhub sim` in a pane of a known size and the test reads the
 * screen back (capture-pane), presses keys and resizes it. The calls are
 * spoken through ALSA's `null` device (aplay runs for real; this machine has
 * no sound card) from a pack written by espeak-ng.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fit, renderPanel, width, type PanelState } from '../daemon/panel/render.js';
import { generateDemoPack } from '../daemon/voice/pack.js';
import { CLI, testCenter } from './helpers/hub.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the panel drawn for a terminal', () => {
  const state = (over: Partial<PanelState> = {}): PanelState => ({
    title: 'qhub sim — test (q quits)',
    hint: 'pages http://localhost:8080/login',
    voice: 'calls are not spoken on this machine',
    timeZone: 'Africa/Cairo',
    snapshot: {
      status: { center: 'c', day: '2026-12-02', time: '2026-12-02T08:00:00.000Z', waiting: 3, windows: { open: 2, paused: 0, closed: 18 }, devices: { online: 3, offline: ['kp-9'] } },
      queues: [{ service: 'intake', prefix: 'A', waiting: 3, longestWaitMin: 4.5, next: ['A004', 'A005', 'A006'] }],
      windows: Array.from({ length: 20 }, (_, i) => ({ number: i + 1, kind: 'intake', status: i < 2 ? 'open' : 'closed', current: i === 0 ? { number: 'A003', status: 'serving' } : null, waiting: 3, served: i, services: ['intake'] })),
      devices: [
        { id: 'kp-1', kind: 'keypad', online: true },
        { id: 'kp-9', kind: 'keypad', online: false, why: 'connection lost' },
      ],
    },
    boards: new Map([['board-1', { rows: [{ t: 'A003', w: 1 }], flash: { t: 'A003', w: 1 } }]]),
    said: new Map([['speaker-1', { text: 'المواطن رقم إيه ثلاثة', at: Date.parse('2026-12-02T08:00:00Z') }]]),
    printed: [],
    log: [],
    ...over,
  });

  it('fits the terminal: no line wider than it, no more lines than it has, the sections in order', () => {
    for (const [cols, rows] of [
      [120, 40],
      [80, 24],
      [60, 16],
    ] as const) {
      const lines = renderPanel(state(), cols, rows);
      expect(lines.length).toBeLessThanOrEqual(rows);
      for (const l of lines) expect(width(l)).toBeLessThanOrEqual(cols);
      const heads = lines.filter((l) => l.startsWith('── ')).map((l) => l.split(' ')[1]);
      expect(heads).toEqual(['BOARDS', 'SPEAKERS', 'QUEUES', 'WINDOWS', 'DEVICES', 'LOG']);
    }
  });

  it('says how many windows it could not show, and shows the center\'s wall clock', () => {
    const lines = renderPanel(state(), 80, 24);
    expect(lines.some((l) => /^… \d+ more/.test(l))).toBe(true);
    // 08:00 UTC is 10:00 in Cairo (winter, UTC+2).
    expect(lines[2]).toContain('10:00:00 Africa/Cairo');
    const tall = renderPanel(state(), 80, 60);
    expect(tall.some((l) => l.includes('more'))).toBe(false);
    expect(tall.filter((l) => /^\d+ +(open|closed)/.test(l))).toHaveLength(20);
  });

  it('counts Arabic vowel marks as no column, and cuts long lines with an ellipsis', () => {
    expect(width('مُوَاطِن')).toBe(5);
    expect(fit('abcdef', 4)).toBe('abc…');
    expect(fit('ab', 4, true)).toBe('ab  ');
  });

  it('the log keeps its newest lines when there is no room for all', () => {
    const log = Array.from({ length: 30 }, (_, i) => `02:00:${String(i).padStart(2, '0')} WARN mqtt: line ${i}`);
    const lines = renderPanel(state({ log }), 100, 40);
    expect(lines.at(-1)).toContain('line 29');
    expect(lines.some((l) => l.includes('line 0 '))).toBe(false);
  });
});

describe('qhub sim on a terminal (tmux)', () => {
  const server = `qhub-test-${process.pid}`;
  const session = 'sim';
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', server, ...args], { encoding: 'utf8' });
  const screen = () => tmux('capture-pane', '-p', '-t', session);
  const { dir, config } = testCenter((doc) => {
    // Open round the clock: the simulated clerks call whatever the hour the suite runs.
    doc.setIn(['center', 'hours'], doc.createNode(Object.fromEntries(['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'].map((d) => [d, ['00:00', '24:00']]))));
  });
  const data = join(dir, 'data');
  const pack = join(mkdtempSync(join(tmpdir(), 'qhub-pack-')), 'voice');

  async function until(what: string, cond: (s: string) => boolean, ms = 60_000): Promise<string> {
    const end = Date.now() + ms;
    let s = '';
    while (Date.now() < end) {
      s = screen();
      if (cond(s)) return s;
      // The sim ended early (a config refused, a crash): say so now, with its last words, rather than after the timeout.
      if (/EXIT=\d+/.test(s)) throw new Error(`qhub sim exited while waiting for ${what}:\n${s}`);
      await sleep(100);
    }
    throw new Error(`timed out after ${ms} ms waiting for ${what}; the screen:\n${s}`);
  }

  beforeAll(async () => {
    await generateDemoPack(pack);
    tmux(
      'new-session', '-d', '-s', session, '-x', '120', '-y', '40',
      `env INVOCATION_ID= NODE_ENV=test ${process.execPath} ${CLI} sim --config ${config} --data ${data} --rate 120 --speak --audio-device null --voice ${pack}; echo EXIT=$?; sleep 120`,
    );
  }, 180_000);

  afterAll(() => {
    try {
      tmux('kill-server');
    } catch {
      /* already gone */
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(join(pack, '..'), { recursive: true, force: true });
  });

  let httpPort = 0;

  it('shows the boards, the speakers, the queues, the windows and the devices as the simulated hall works', async () => {
    const s = await until(
      'a board showing a call, a window at work, a ticket printed and a speaker told a number',
      (x) => /^board-1 +.*[A-E]\d{3} → \d+/m.test(x) && /^\d+ +open +[A-E]\d{3} (called|serving)/m.test(x) && /printed: [A-E]\d{3}/.test(x) && /^speaker-1 +\d\d:\d\d:\d\d +.*number/m.test(x),
    );
    const lines = s.split('\n');
    expect(lines[0]).toMatch(/^qhub sim — mansoura-tc .*\(q quits\)/);
    httpPort = Number(/http:\/\/127\.0\.0\.1:(\d+)\/login/.exec(lines[1]!)?.[1]);
    expect(httpPort).toBeGreaterThan(0);
    expect(lines[2]).toMatch(/^day \d{4}-\d\d-\d\d +\d\d:\d\d:\d\d Africa\/Cairo +waiting \d+ +windows \d+ open/);
    for (const head of ['BOARDS', 'SPEAKERS', 'QUEUES', 'WINDOWS', 'DEVICES', 'LOG']) expect(s).toMatch(new RegExp(`^── ${head}`, 'm'));
    expect(s).toMatch(/^intake \(A\) +\d+ +[\d.]+ min/m);
    expect(s).toMatch(/\d+ of 27 online; offline: hall-tv, hall-tv-voice/);
    // The log is in its file, not across the panel; its warnings are in the panel's last lines.
    expect(s).not.toContain('{"level"');
    expect(s).toMatch(/^\d\d:\d\d:\d\d WARN daemon: DEMO SETUP/m);
    expect(readFileSync(join(data, 'sim.log'), 'utf8')).toContain('"msg":"qhub ready"');
  });

  it('speaks the calls through this machine\'s audio out (aplay), from the pack it was given', async () => {
    const s = screen();
    expect(s).toMatch(new RegExp(`calls are spoken here: aplay -D null, from the pack ${pack.replace(/[/.]/g, '\\$&')} \\(156 clips\\)`));
    const end = Date.now() + 60_000;
    let voice: { pack: string; localPlayed: number; localFailures: number } | undefined;
    while (Date.now() < end) {
      const health = (await (await fetch(`http://127.0.0.1:${httpPort}/health`)).json()) as { modules: { name: string; detail: typeof voice }[] };
      voice = health.modules.find((m) => m.name === 'announcer')?.detail;
      if ((voice?.localPlayed ?? 0) >= 1) break;
      await sleep(200);
    }
    expect(voice?.pack).toBe(pack);
    expect(voice?.localPlayed).toBeGreaterThanOrEqual(1);
    expect(voice?.localFailures).toBe(0);
  });

  it('redraws to fit when the terminal is made smaller', async () => {
    tmux('resize-window', '-t', session, '-x', '80', '-y', '24');
    const s = await until('the panel drawn for 80×24', (x) => x.split('\n')[0]!.length <= 80 && /^── LOG/m.test(x) && /^… \d+ more/m.test(x));
    const lines = s.split('\n');
    expect(lines[0]).toMatch(/^qhub sim/);
    for (const l of lines) expect(width(l)).toBeLessThanOrEqual(80);
  });

  it('q stops the hub cleanly, gives the terminal back and names the log file', async () => {
    tmux('send-keys', '-t', session, 'q');
    const s = await until('the exit', (x) => /EXIT=\d+/.test(x), 30_000).catch((e: Error) => {
      if (/exited while/.test(e.message)) return e.message;
      throw e;
    });
    expect(s).toMatch(/qhub sim stopped \(q pressed\); this run's log: .*sim\.log/);
    expect(s).toContain('EXIT=0');
    expect(s).not.toMatch(/^── QUEUES/m);
    expect(readFileSync(join(data, 'sim.log'), 'utf8')).toContain('"msg":"stopped: store closed"');
    expect(existsSync(join(data, 'qhub.sock'))).toBe(false);
  });
});
