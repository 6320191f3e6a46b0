/**
 * Child process for the crash test: runs the real Core on a data directory
 * and submits bursts of concurrent presses and calls as fast as it can (so
 * they are decided and committed in groups), writing one "ACK" line per
 * command only when its promise resolved (i.e. after its group's commit).
 * The parent kills it with SIGKILL at a random moment.
 *
 * argv: CONFIG DATA_DIR START_MS
 */
import { writeSync } from 'node:fs';
import { loadCenter } from '../../config/load.js';
import { Core } from '../../daemon/core/core.js';

const [configFile, dataDir, startMs] = process.argv.slice(2) as [string, string, string];
let now = Number(startMs);
const core = new Core({ config: loadCenter(configFile).config, dataDir, clock: () => now, snapshotEvery: 500 });
await core.start();
const services = core.config.services.map((s) => s.id);
const windows = core.config.windows.map((w) => w.number);
writeSync(1, `READY ${core.store.lastSeq}\n`);

for (let burst = 0; ; burst++) {
  now += 50;
  const size = 1 + (burst % 40); // 1 to 40 commands arriving together
  const pending: Promise<void>[] = [];
  for (let k = 0; k < size; k++) {
    const i = burst * 40 + k;
    const service = services[i % services.length]!;
    pending.push(
      core.submit({ type: 'issue', service, source: 'crash', id: `p${startMs}-${i}` }).then((r) => {
        if (!r.ok) throw new Error(`issue failed: ${r.error.code}`);
        writeSync(1, `ACK ${JSON.stringify({ op: 'issue', ticket: r.ticket!.id, number: r.ticket!.number, seq: r.events.at(-1)!.seq })}\n`);
      }),
    );
    if (k % 3 === 2) {
      const window = windows[i % windows.length]!;
      pending.push(
        core.submit({ type: 'next', window }).then((c) => {
          if (!c.ok) throw new Error(`next failed: ${c.error.code}`);
          const called = c.events.find((e) => e.type === 'ticket.called');
          if (called) writeSync(1, `ACK ${JSON.stringify({ op: 'call', ticket: (called as { ticket: string }).ticket, window, seq: called.seq })}\n`);
        }),
      );
    }
  }
  await Promise.all(pending);
}
