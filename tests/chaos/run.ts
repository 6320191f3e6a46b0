/**
 * `npm run chaos`: fault injection on the real daemon, loopback only, bounded
 * in count and time. Each scenario prints one line with its figures and
 * passed/failed; the whole run is written to chaos/latest.json.
 *
 *   node dist/tests/chaos/run.js [--short] [--only kill,clock] [--verbose] [--out FILE]
 *
 * Exit code 0 when every scenario passed, 1 otherwise.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Figure, ScenarioResult } from './scenario.js';
import { SCENARIOS } from './scenarios/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const USAGE = `usage: node dist/tests/chaos/run.js [--short] [--only NAME,NAME] [--verbose] [--out FILE]   (as root)
  Fault injection on the real daemon, loopback only; one line per scenario with its figures and passed/FAILED.
  --short: the CI version (fewer rounds, smaller budgets); --only: these scenarios; --verbose: their progress;
  --out: the JSON results (default chaos/latest.json, chaos/latest-short.json with --short). Exit 0 when all passed.
  scenarios: ${SCENARIOS.map((s) => s.name).join(', ')} (docs/RELIABILITY.md)`;

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      short: { type: 'boolean' },
      only: { type: 'string' },
      verbose: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
try {
  parsed = parse();
} catch (e) {
  console.error(`${(e as Error).message}\n${USAGE}`);
  process.exit(2);
}
const args = parsed.values;
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const short = !!args.short;
const only = args.only ? new Set(args.only.split(',')) : null;
if (only) {
  const unknown = [...only].filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) {
    console.error(`unknown scenario: ${unknown.join(', ')} (known: ${SCENARIOS.map((s) => s.name).join(', ')})`);
    process.exit(2);
  }
}

function fmt(figures: Record<string, Figure>): string {
  return Object.entries(figures)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(2) : String(v)}`)
    .join(' ');
}

interface Entry extends ScenarioResult {
  name: string;
  title: string;
  ms: number;
}

const entries: Entry[] = [];
const started = Date.now();
for (const s of SCENARIOS) {
  if (only && !only.has(s.name)) continue;
  const workDir = mkdtempSync(join(tmpdir(), `qhub-chaos-${s.name}-`));
  const budget = short ? s.budgetMs.short : s.budgetMs.full;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`budget of ${budget} ms ran out`)), budget);
  const t0 = Date.now();
  let result: ScenarioResult;
  // A scenario that keeps waiting on something its signal does not end would hold the whole run: past its budget and a
  // minute's grace it is counted failed and the run goes on (its hubs are killed when the run exits).
  let hardStop: NodeJS.Timeout | undefined;
  const overrun = new Promise<ScenarioResult>((resolve) => {
    hardStop = setTimeout(
      () => resolve({ passed: false, figures: {}, problems: [`did not end within its budget of ${budget} ms plus 60 s: something it waits for ignores the run's signal (kept its work directory)`] }),
      budget + 60_000,
    );
  });
  try {
    result = await Promise.race([
      s.run({
        short,
        workDir,
        signal: ac.signal,
        progress: (line) => {
          if (args.verbose) console.error(`  [${s.name}] ${line}`);
        },
      }),
      overrun,
    ]);
  } catch (err) {
    result = { passed: false, figures: {}, problems: [`the scenario itself failed: ${(err as Error).stack ?? String(err)}`] };
  } finally {
    clearTimeout(timer);
    clearTimeout(hardStop);
  }
  const ms = Date.now() - t0;
  entries.push({ name: s.name, title: s.title, ms, ...result });
  console.log(`${result.passed ? 'passed' : 'FAILED'}  ${s.name.padEnd(14)} ${(ms / 1000).toFixed(1).padStart(6)} s  ${fmt(result.figures)}`);
  for (const p of result.problems) console.log(`        - ${p}`);
  if (result.passed) rmSync(workDir, { recursive: true, force: true });
  else console.log(`        (kept ${workDir})`);
}

const out = args.out ?? join(ROOT, 'chaos', short ? 'latest-short.json' : 'latest.json');
mkdirSync(dirname(out), { recursive: true });
const failed = entries.filter((e) => !e.passed).length;
writeFileSync(
  out,
  JSON.stringify(
    { at: new Date().toISOString(), short, node: process.version, totalMs: Date.now() - started, passed: entries.length - failed, failed, scenarios: entries },
    null,
    2,
  ) + '\n',
);
console.log(`chaos: ${entries.length - failed} passed, ${failed} failed in ${((Date.now() - started) / 1000).toFixed(0)} s → ${out}`);
process.exit(failed ? 1 : 0);
