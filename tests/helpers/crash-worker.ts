/**
 * Child process for the crash test: runs the real Core on a data directory
 * and issues/calls tickets as fast as it can, writing one "ACK" line per
 * command only after the command returned (i.e. after its commit). The
 * parent kills it with SIGKILL at a random moment.
 *
 * argv: CONFIG DATA_DIR START_MS
 */
import { writeSync } from 'node:fs';
import { loadCenter } from '../../config/load.js';
import { Core } from '../../daemon/core/core.js';

const [configFile, dataDir, startMs] = process.argv.slice(2) as [string, string, string];
let now = Number(startMs);
const core = new Core({ config: loadCenter(configFile).config, dataDir, clock: () => now, snapshotEvery: 500 });
core.start();
const services = core.config.services.map((s) => s.id);
const windows = core.config.windows.map((w) => w.number);
writeSync(1, `READY ${core.store.lastSeq}\n`);

for (let i = 0; ; i++) {
  now += 50;
  const service = services[i % services.length]!;
  const r = core.execute({ type: 'issue', service, source: 'crash', id: `p${startMs}-${i}` });
  if (!r.ok) throw new Error(`issue failed: ${r.error.code}`);
  writeSync(1, `ACK ${JSON.stringify({ op: 'issue', ticket: r.ticket!.id, number: r.ticket!.number, seq: r.events.at(-1)!.seq })}\n`);
  if (i % 2 === 1) {
    const window = windows[i % windows.length]!;
    const c = core.execute({ type: 'next', window });
    if (!c.ok) throw new Error(`next failed: ${c.error.code}`);
    const called = c.events.find((e) => e.type === 'ticket.called');
    if (called) writeSync(1, `ACK ${JSON.stringify({ op: 'call', ticket: (called as { ticket: string }).ticket, window, seq: called.seq })}\n`);
  }
}
