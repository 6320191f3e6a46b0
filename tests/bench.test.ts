/**
 * The benchmark's quick mode, as CI runs it: it must start the real daemon,
 * drive a generated center with real devices, measure its baselines and
 * write bench/latest.json with every key docs/BENCHMARKS.md describes. It
 * proves the bench works; it judges no speed (figures on a shared CI machine
 * mean nothing).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const RUN = new URL('../dist/tests/bench/run.js', import.meta.url).pathname;

describe('npm run bench (quick mode)', () => {
  it('runs the daemon with a generated center and writes every figure', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'qhub-bench-test-')), 'latest.json');
    const r = spawnSync(process.execPath, [RUN, '--quick', '--out', out], { encoding: 'utf8', timeout: 240_000 });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('baselines at the start: bare Aedes relay round trip');
    expect(r.stdout).toMatch(/targets\n/);
    const j = JSON.parse(readFileSync(out, 'utf8')) as Record<string, any>;
    expect(j.quick).toBe(true);
    for (const b of [j.baselines.relay, j.baselines.commit]) expect(b.p50).toBeGreaterThan(0);
    expect(j.baselines.floorMs).toBeCloseTo(j.baselines.relay.p50 + j.baselines.commit.p50, 2);
    const c = j.centers[0];
    expect(c).toMatchObject({ windows: 10, devices: 40 });
    // The quiet calls' own floor: one relay round trip and one commit between every two of them.
    const f = c.fresh.quiet.floor;
    expect(f.relay.n).toBe(c.fresh.quiet.reply.n);
    expect(f.commit.n).toBe(c.fresh.quiet.reply.n);
    expect(f.ms).toBeCloseTo(f.relay.p50 + f.commit.p50, 2);
    expect(r.stdout).toContain(`floor between its quiet calls: relay p50 ${f.relay.p50} + commit p50 ${f.commit.p50} = ${f.ms} ms`);
    for (const d of [c.fresh.quiet.reply, c.fresh.quiet.display, c.fresh.quiet.board, c.fresh.together.reply, c.afterDay.together.display, c.press]) {
      expect(d.n).toBeGreaterThan(0);
      expect(d.p50).toBeGreaterThan(0);
      expect(d.p99).toBeGreaterThanOrEqual(d.p50);
    }
    expect(c.ticketsPerSecond).toBeGreaterThan(0);
    expect(c.rssMiB.loaded).toBeGreaterThan(10);
    expect(c.startMs.withDay).toBeGreaterThan(0);
    expect(c.memoryAfterDay.heapUsedMiB).toBeGreaterThan(0);
    expect(j.forwardDrain.events).toBeGreaterThanOrEqual(5000);
    expect(j.forwardDrain.perSecond).toBeGreaterThan(0);
    expect(j.targets.length).toBeGreaterThanOrEqual(4);
    for (const t of j.targets) expect(typeof t.met).toBe('boolean');
  });
});
