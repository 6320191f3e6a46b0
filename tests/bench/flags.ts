/**
 * How systemd/qhub.service starts the daemon, read from the unit itself:
 * the node flags and the script of its ExecStart= line, and its
 * Environment= lines that tune node and malloc (UV_*, NODE_OPTIONS, MALLOC_*). The benches
 * start the daemon the same way, so they measure what a Pi runs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// The checkout, from the sources (vitest) or from their compiled copy in dist/ (the benches).
const ROOT = new URL('../../', import.meta.url).pathname.replace(/dist\/$/, '');
const UNIT = readFileSync(join(ROOT, 'systemd/qhub.service'), 'utf8');

function execStart(): { flags: string[]; script: string } {
  const line = /^ExecStart=(.*)$/m.exec(UNIT)?.[1];
  const words = line?.split(/\s+/) ?? [];
  const at = words.findIndex((w) => w.startsWith('/opt/qhub/'));
  if (!line || !words[0]?.endsWith('/node') || at < 0) throw new Error(`systemd/qhub.service: ExecStart= is not "<node> [flags] /opt/qhub/<script> start": ${line}`);
  return { flags: words.slice(1, at), script: words[at]!.slice('/opt/qhub/'.length) };
}

const start = execStart();
/** The node flags of the unit's ExecStart=, e.g. --max-semi-space-size=1. */
export const DAEMON_NODE_FLAGS: string[] = start.flags;
/** The script the unit runs, relative to the checkout (dist/bundle/qhub.js). */
export const DAEMON_SCRIPT: string = start.script;
/** The unit's Environment= settings for node and its C library (UV_*, NODE_OPTIONS, MALLOC_*; not the hub's QHUB_* nor NODE_ENV). */
export const DAEMON_ENV: Record<string, string> = Object.fromEntries(
  [...UNIT.matchAll(/^Environment=(UV_[A-Z_]+|NODE_OPTIONS|MALLOC_[A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]),
);
