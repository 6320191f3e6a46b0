/**
 * The benches' daemons are started with `--json` and stdout piped: this
 * waits for the "qhub ready" line and returns the ports it names. Every
 * other line goes to `onLine` (e.g. to echo errors). Rejects if the daemon
 * exits first.
 */
import type { ChildProcess } from 'node:child_process';

export function daemonReady(proc: ChildProcess, onLine?: (line: string) => void): Promise<{ mqtt: number; http: number }> {
  return new Promise((resolve, reject) => {
    let buf = '';
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.includes('"qhub ready"')) resolve(JSON.parse(line) as { mqtt: number; http: number });
        else onLine?.(line);
      }
    });
    proc.on('exit', (code) => reject(new Error(`daemon exited with ${code} before it was ready`)));
  });
}
