/** A pino logger whose JSON lines are kept in memory, for tests that check what a technician would read. */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export function captureLog(level = 'debug'): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level }, stream), lines };
}
