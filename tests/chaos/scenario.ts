/**
 * The shape every `npm run chaos` scenario has. A scenario starts what it
 * needs (the real daemon as its own process, real MQTT clients, socat lines,
 * a tmpfs…), injects its fault a bounded number of times, checks the
 * invariants a user relies on, and returns its figures. It never throws for a
 * failed invariant: it lists the problem and sets `passed: false`; a throw is
 * reported as a failure of the scenario itself.
 */
export type Figure = number | string | boolean | null;

export interface ScenarioContext {
  /** The short version CI runs on every submission (fewer rounds, same invariants). */
  short: boolean;
  /** A fresh directory of the scenario's own, removed after a pass. */
  workDir: string;
  /** Progress for a person watching (one line, no newline). Quiet unless --verbose. */
  progress(line: string): void;
  /** Aborted when the scenario's time budget runs out: stop injecting and report. */
  signal: AbortSignal;
}

export interface ScenarioResult {
  passed: boolean;
  /** The figures printed on the scenario's line and kept in chaos/latest.json. */
  figures: Record<string, Figure>;
  /** One sentence per broken invariant, empty when passed. */
  problems: string[];
  /** What this scenario does not cover (for docs/RELIABILITY.md), optional. */
  notCovered?: string[];
}

export interface Scenario {
  /** Short id used by `--only` (e.g. "kill", "abuse-mqtt"). */
  name: string;
  /** What is tried, in one line. */
  title: string;
  /** Wall-clock budget for the full run and the short run, in ms. */
  budgetMs: { full: number; short: number };
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}
