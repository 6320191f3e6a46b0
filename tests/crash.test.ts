/**
 * Power-cut test: a child process issues and calls tickets through the real
 * Core and SQLite store and is killed with SIGKILL at a random moment. After
 * each kill: every acknowledged ticket and call is in the log, the log's
 * sequence has no gap, no number was issued twice, and the hub restarts and
 * continues numbering where it stopped.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCenter } from '../config/load.js';
import { Core } from '../daemon/core/core.js';
import { Store } from '../daemon/store/store.js';

const WORKER = new URL('../dist/tests/helpers/crash-worker.js', import.meta.url).pathname;
const ROUNDS = 5;

interface Ack {
  op: 'issue' | 'call';
  ticket: string;
  number?: string;
  window?: number;
  seq: number;
}

function runAndKill(config: string, dataDir: string, startMs: number, killAfterMs: number): Promise<{ acks: Ack[]; readySeq: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, config, dataDir, String(startMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (!timer && out.includes('READY')) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`worker exited by itself (code ${code}): ${err}`));
      const lines = out.split('\n');
      const readySeq = Number(lines.find((l) => l.startsWith('READY'))?.split(' ')[1] ?? NaN);
      // The last line may be cut by the kill: only whole lines count as acknowledged.
      const acks = lines.slice(0, -1).filter((l) => l.startsWith('ACK ')).map((l) => JSON.parse(l.slice(4)) as Ack);
      resolve({ acks, readySeq });
    });
  });
}

describe('crash safety (SIGKILL during group commits of concurrent presses and calls)', () => {
  it(`keeps every acknowledged ticket and call, gap-free and without reused numbers, over ${ROUNDS} kills`, async () => {
    expect(existsSync(WORKER), `${WORKER} is missing: run "npm run build" first`).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'qhub-crash-'));
    const example = new URL('../config/center.example.yaml', import.meta.url).pathname;
    // Numbers up to 99999 so that no legitimate wrap-around repeats a number in this run.
    const config = join(dir, 'center.yaml');
    writeFileSync(config, readFileSync(example, 'utf8').replaceAll('last: 999', 'last: 99999'));
    copyFileSync(example.replace('.yaml', '.secrets.yaml'), join(dir, 'center.example.secrets.yaml'));
    const dataDir = join(dir, 'data');
    const start = Date.UTC(2026, 10, 22, 7, 0); // 09:00 in Cairo: one business day for the whole test

    const allAcks: Ack[] = [];
    let totalAcks = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const killAfter = 150 + Math.floor(Math.random() * 600);
      const { acks, readySeq } = await runAndKill(config, dataDir, start + round * 3600_000, killAfter);
      expect(acks.length, `round ${round}: the worker acknowledged nothing before the kill`).toBeGreaterThan(0);
      totalAcks += acks.length;
      allAcks.push(...acks);

      const store = new Store(join(dataDir, 'qhub.db'));
      store.open();
      const events = [...store.replay()];
      store.close();
      // Gap-free, increasing sequence from 1.
      events.forEach((e, i) => expect(e.seq).toBe(i + 1));
      // The restarted worker continued the log instead of starting a new one.
      if (round > 0) expect(readySeq).toBeGreaterThan(0);
      // Every acknowledged command is in the log, as acknowledged.
      const bySeq = new Map(events.map((e) => [e.seq, e]));
      for (const a of allAcks) {
        const e = bySeq.get(a.seq);
        expect(e, `acknowledged ${a.op} of ${a.ticket} (seq ${a.seq}) is missing after the kill`).toBeDefined();
        expect(e!.type).toBe(a.op === 'issue' ? 'ticket.issued' : 'ticket.called');
        expect((e as { ticket: string }).ticket).toBe(a.ticket);
        if (a.number) expect((e as { number: string }).number).toBe(a.number);
      }
      // No number given twice in the business day.
      const issued = events.filter((e) => e.type === 'ticket.issued') as Extract<(typeof events)[number], { type: 'ticket.issued' }>[];
      const numbers = issued.map((e) => `${e.day}/${e.number}`);
      expect(new Set(numbers).size).toBe(numbers.length);
      expect(new Set(issued.map((e) => e.ticket)).size).toBe(issued.length);

      // The hub restarts on this store and numbering continues after the last number.
      const core = new Core({ config: loadCenter(config).config, dataDir, clock: () => start + round * 3600_000 + 1800_000 });
      await core.start();
      const last = issued.filter((e) => e.service === 'intake').at(-1);
      const r = await core.submit({ type: 'issue', service: 'intake' });
      expect(r.ok).toBe(true);
      if (r.ok && last) expect(r.ticket!.n).toBe(last.n + 1);
      core.stop();
    }
    expect(totalAcks).toBeGreaterThan(ROUNDS * 50);
    console.log(`crash test: ${ROUNDS} kills, ${totalAcks} acknowledged commands, all present`);
  });
});
