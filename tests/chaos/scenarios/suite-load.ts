/**
 * `suite-load`: the vitest suite beside a CPU load. Shared CI machines are
 * busy; a suite that passes only on a quiet machine hides its races (see
 * docs/RELIABILITY.md, "A suite that holds on a busy machine").
 *
 * Starts `stress-ng --cpu <ncpu>` (Debian's stress-ng), runs vitest with its
 * JSON reporter (the whole suite, or with --short the files that were flaky
 * under load), and reports how many tests passed and failed and the names of
 * the failures. stress-ng is stopped in `finally`, whatever happens.
 * Runs after the build (the runner's `npm run chaos` builds); never builds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Scenario, ScenarioResult } from '../scenario.js';

// From dist/tests/chaos/scenarios/ (or tests/chaos/scenarios/) up to the project root.
const ROOT = (() => {
  for (const up of ['../../../../', '../../../']) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'vitest.config.ts'))) return dir;
  }
  throw new Error('suite-load: cannot find the project root (package.json and vitest.config.ts)');
})();

/** The files that failed under load before (docs/RELIABILITY.md): the short run's subset. */
export const SHORT_FILES = ['tests/wired.test.ts', 'tests/firmata.test.ts', 'tests/serial-line.test.ts', 'tests/voice.test.ts'];

interface VitestJson {
  numTotalTests: number;
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests?: number;
  testResults: { name: string; status?: string; message?: string; assertionResults: { title: string; ancestorTitles?: string[]; status: string; failureMessages?: string[] }[] }[];
}

/** Failed tests as `file > describe > title`, from vitest's JSON report. */
export function failuresOf(r: VitestJson): string[] {
  const out: string[] = [];
  for (const f of r.testResults) {
    const file = f.name.startsWith(ROOT) ? f.name.slice(ROOT.length) : f.name;
    const before = out.length;
    for (const a of f.assertionResults) if (a.status === 'failed') out.push([file, ...(a.ancestorTitles ?? []), a.title].join(' > '));
    // A hook that failed (a beforeAll timing out) skips the file's tests: the file itself failed.
    if (f.status === 'failed' && out.length === before) out.push(`${file} (outside any test: ${f.message?.split('\n')[0] || 'a hook failed'})`);
  }
  return out;
}

async function stop(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = once(p, 'exit');
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

export const suiteLoad: Scenario = {
  name: 'suite-load',
  title: 'the vitest suite beside stress-ng --cpu <ncpu>: every test passes on a busy machine',
  budgetMs: { full: 60 * 60_000, short: 15 * 60_000 },
  async run(ctx): Promise<ScenarioResult> {
    const cpus = availableParallelism();
    const files = ctx.short ? SHORT_FILES : [];
    const report = join(ctx.workDir, 'vitest.json');
    let stress: ChildProcess | undefined;
    let vitest: ChildProcess | undefined;
    const problems: string[] = [];
    const t0 = Date.now();
    try {
      stress = spawn('stress-ng', ['--cpu', String(cpus), '--timeout', `${(ctx.short ? 15 : 60) * 60}s`, '--quiet'], { stdio: 'ignore' });
      const spawnError = once(stress, 'error').then(([e]) => e as Error);
      // stress-ng missing shows as an error event right after the spawn.
      const early = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(r, 500))]);
      if (early) throw new Error(`stress-ng could not be started (${early.message}): install Debian's stress-ng (.ci/run does)`);
      ctx.progress(`stress-ng --cpu ${cpus} running; vitest ${files.length ? files.join(' ') : '(whole suite)'}`);
      vitest = spawn(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', ...files, '--reporter=json', `--outputFile=${report}`], {
        cwd: ROOT,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, CI: '1' },
      });
      let stderr = '';
      vitest.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
      const onAbort = () => void stop(vitest);
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      const [code] = (await once(vitest, 'exit')) as [number | null];
      ctx.signal.removeEventListener('abort', onAbort);
      if (ctx.signal.aborted) problems.push(`the suite did not finish within the scenario's budget (${String(ctx.signal.reason)})`);
      if (!existsSync(report)) {
        problems.push(`vitest wrote no report (exit ${code}): ${stderr.trim().split('\n').slice(-5).join(' | ')}`);
        return { passed: false, figures: { cpus, files: files.length || 'all', seconds: Math.round((Date.now() - t0) / 1000) }, problems };
      }
      const r = JSON.parse(readFileSync(report, 'utf8')) as VitestJson;
      const failed = failuresOf(r);
      for (const f of failed) problems.push(`failed under load: ${f}`);
      if (code !== 0 && !failed.length) problems.push(`vitest exited with ${code} and named no failed test: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      if (r.numTotalTests === 0) problems.push('vitest ran no test');
      return {
        passed: problems.length === 0,
        figures: {
          cpus,
          files: files.length || 'all',
          tests: r.numTotalTests,
          passed: r.numPassedTests,
          failed: r.numFailedTests,
          skipped: r.numPendingTests ?? 0,
          seconds: Math.round((Date.now() - t0) / 1000),
        },
        problems,
        notCovered: [
          'memory pressure and slow disks (only the CPU is loaded)',
          ctx.short ? 'the short run loads only the files that were flaky under load' : 'one run: a rare race can still pass once',
        ],
      };
    } finally {
      await stop(vitest);
      await stop(stress);
    }
  },
};
