/**
 * `--help` on every command of `qhub`: what it does and how to call it, on
 * stdout, exit 0, and nothing started or changed (no hub needs to run).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from './helpers/hub.js';

const COMMANDS = [
  'check-config', 'start', 'sim', 'print-test', 'status', 'devices', 'queues', 'windows', 'window', 'assign', 'alerts', 'selftest',
  'reload', 'ticket', 'return', 'cancel', 'issue', 'reprint', 'logs', 'user', 'voice', 'backup', 'restore', 'report',
];

function run(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, QHUB_DATA: join(cwd, 'data') }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('qhub CMD --help', () => {
  it.each(COMMANDS)('qhub %s --help says how to use it, exits 0 and starts nothing', async (cmd) => {
    const cwd = mkdtempSync(join(tmpdir(), 'qhub-help-'));
    const r = await run([cmd, '--help'], cwd);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`qhub ${cmd === 'window' ? 'window N' : cmd}\\b`));
    // Nothing was written where it ran: no store, no data directory, no ticket files.
    expect(readdirSync(cwd)).toEqual([]);
  });
});
