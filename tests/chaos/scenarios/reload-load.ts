/**
 * Config reloads under load: two dispensers and six keypads press and call
 * as fast as their message rate allows while the config is reloaded 20
 * times (SIGHUP and `qhub reload` over the local socket, in turn), each
 * reload with a real change (a service's name), one of them removing a
 * connected keypad. Nothing acknowledged is lost (every acked command's ref
 * is in the event log, seq gap-free), no device that stayed in the config is
 * disconnected, and the removed one is.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseDocument } from 'yaml';
import { createConnection } from 'node:net';
import { connectDevice, type TestDevice } from '../../helpers/hub.js';
import type { Figure, Scenario } from '../scenario.js';
import { quantile, round, secrets, sleep, watchedHub, type WatchedHub } from '../lib-abuse.js';

const PRESSERS = [
  { id: 'disp-1', service: 'intake' },
  { id: 'disp-2', service: 'treasury' },
];
const CALLERS = ['kp-1', 'kp-2', 'kp-3', 'kp-4', 'kp-5', 'kp-6'];
/** Connected the whole time, never used: they must stay connected through every reload. */
const BYSTANDERS = ['board-1', 'board-2', 'wd-1', 'wd-2', 'wd-3', 'speaker-1', 'kp-7', 'kp-8'];
const REMOVED = 'kp-10';

/** One request on the hub's local socket, one JSON line back. */
function socketCall(path: string, req: Record<string, unknown>): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) {
        s.end();
        try {
          resolve(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
        } catch {
          resolve({ ok: false, raw: buf.slice(0, 200) });
        }
      }
    });
    s.on('error', (e) => resolve({ ok: false, error: e.message }));
    s.write(`${JSON.stringify(req)}\n`);
  });
}

export const reloadLoad: Scenario = {
  name: 'reload-load',
  title: '20 config reloads (SIGHUP and qhub reload) during a burst of presses and calls; nothing acknowledged lost, seq gap-free, no device dropped but the one removed',
  budgetMs: { full: 180_000, short: 90_000 },
  async run(ctx) {
    const reloads = 20;
    const removeAt = 7;
    const figures: Record<string, Figure> = {};
    const problems: string[] = [];
    let w: WatchedHub | undefined;
    const devs = new Map<string, TestDevice>();
    const closedAt = new Map<string, number>();
    try {
      w = await watchedHub();
      const hub = w.hub;
      for (const id of [...PRESSERS.map((p) => p.id), ...CALLERS, ...BYSTANDERS, REMOVED]) {
        const d = await connectDevice(hub.mqttPort, id, secrets[id]!);
        d.client.on('close', () => closedAt.has(id) || closedAt.set(id, performance.now()));
        devs.set(id, d);
      }
      // The burst: every presser and caller in a loop, each request with its own id; what was acknowledged is kept.
      const acked: { ref: string; what: string }[] = [];
      const latencies: number[] = [];
      let timeouts = 0;
      let refusals = 0;
      let stop = false;
      let n = 0;
      const worker = async (id: string, leaf: 'press' | 'cmd', body: Record<string, unknown>, replyLeaf: string) => {
        const d = devs.get(id)!;
        while (!stop && !ctx.signal.aborted) {
          const rid = `rl-${++n}`;
          const t0 = performance.now();
          const r = await d.request(leaf, { id: rid, ...body }, replyLeaf, 10_000).catch(() => undefined);
          if (!r) timeouts++;
          else if (r.leaf === 'error') refusals++;
          else {
            latencies.push(performance.now() - t0);
            // A NEXT that called someone made events; one that found nobody waiting made none.
            if (leaf === 'press' || (typeof r.body.t === 'string' && r.body.status === 'called')) acked.push({ ref: `${id}/${rid}`, what: leaf === 'press' ? 'ticket.issued' : 'ticket.called' });
          }
          await sleep(leaf === 'press' ? 55 : 70); // within the device's 20 messages a second
        }
      };
      const workers = [...PRESSERS.map((p) => worker(p.id, 'press', { service: p.service }, 'ticket')), ...CALLERS.map((id) => worker(id, 'cmd', { cmd: 'next' }, 'screen'))];
      await sleep(1000, ctx.signal);

      const edit = (f: (doc: ReturnType<typeof parseDocument>) => void) => {
        const doc = parseDocument(readFileSync(w!.config, 'utf8'));
        f(doc);
        writeFileSync(w!.config, doc.toString());
      };
      const reloadLines = () => hub.logs.filter((l) => String(l.msg).startsWith('config reloaded') || String(l.msg).startsWith('reload refused'));
      const took: number[] = [];
      const inside: number[] = [];
      let removedAt: number | undefined;
      let viaCli = 0;
      for (let i = 1; i <= reloads && !ctx.signal.aborted; i++) {
        edit((doc) => {
          doc.setIn(['services', 0, 'name', 'en'], `New requests (${i})`);
          if (i === removeAt) {
            const items = (doc.get('devices') as { items: { get(k: string): unknown }[] }).items;
            doc.deleteIn(['devices', items.findIndex((d) => d.get('id') === REMOVED)]);
          }
        });
        const before = reloadLines().length;
        const t0 = performance.now();
        if (i === removeAt) removedAt = t0;
        if (i % 2) hub.proc.kill('SIGHUP');
        else {
          // What `qhub reload` sends: one line on the local socket (the command line's own start-up is not timed here).
          viaCli++;
          const answer = await socketCall(join(w.dataDir, 'qhub.sock'), { id: i, action: 'hub.reload', input: {}, as: 'chaos' });
          if (!answer.ok) problems.push(`reload #${i} over the socket: ${JSON.stringify(answer).slice(0, 200)}`);
        }
        while (reloadLines().length === before && performance.now() - t0 < 20_000 && !ctx.signal.aborted) await sleep(10);
        const line = reloadLines()[before];
        if (!line) problems.push(`reload #${i}: no "config reloaded" line within 20 s`);
        else if (!String(line.msg).startsWith('config reloaded')) problems.push(`reload #${i} refused: ${String(line.msg)}`);
        else took.push(performance.now() - t0);
        // Inside the hub: from "reloading the config" to "config reloaded" (the log's own clock).
        const started = hub.logs.filter((l) => l.msg === 'reloading the config').at(-1);
        if (line && started) inside.push(Date.parse(String(line.time)) - Date.parse(String(started.time)));
        ctx.progress(`reload ${i}/${reloads}: ${line ? String(line.msg).slice(0, 80) : 'none'} in ${Math.round(performance.now() - t0)} ms (${inside.at(-1)} ms inside the hub); ${acked.length} acked so far`);
        await sleep(ctx.short ? 100 : 300, ctx.signal);
      }
      await sleep(1000, ctx.signal);
      stop = true;
      await Promise.all(workers);

      if (took.length < reloads && !problems.length) problems.push(`only ${took.length} of ${reloads} reloads were made before the time budget ran out`);
      // The removed keypad was disconnected, and soon; the others were not.
      const removedGone = closedAt.get(REMOVED);
      if (removedGone === undefined) problems.push(`${REMOVED} was removed from the config at reload #${removeAt} and is still connected`);
      const dropped = [...closedAt.keys()].filter((id) => id !== REMOVED);
      if (dropped.length) problems.push(`devices that stayed in the config were disconnected: ${dropped.join(', ')}`);
      if (timeouts) problems.push(`${timeouts} requests got no answer within 10 s`);

      // Nothing acknowledged is lost: every ref in the log, seq gap-free.
      const db = new Database(join(w.dataDir, 'qhub.db'), { readonly: true });
      let gaps = 0;
      let missing: string[] = [];
      let events = 0;
      try {
        const r = db.prepare('SELECT min(seq) AS lo, max(seq) AS hi, count(*) AS n FROM events').get() as { lo: number; hi: number; n: number };
        events = r.n;
        gaps = r.hi - r.lo + 1 - r.n;
        const refs = new Set<string>();
        for (const row of db.prepare('SELECT type, ref FROM events WHERE ref IS NOT NULL').iterate() as Iterable<{ type: string; ref: string }>) refs.add(`${row.type} ${row.ref}`);
        missing = acked.filter((a) => !refs.has(`${a.what} ${a.ref}`)).map((a) => a.ref);
      } finally {
        db.close();
      }
      if (gaps) problems.push(`the event log has ${gaps} gaps in seq`);
      if (missing.length) problems.push(`${missing.length} acknowledged commands are not in the event log, e.g. ${missing.slice(0, 3).join(', ')}`);
      if (!w.alive()) problems.push('the daemon died');
      Object.assign(figures, {
        reloads: took.length,
        viaSocket: viaCli,
        viaSignal: took.length - viaCli,
        reloadP50ms: round(quantile(took, 0.5), 0),
        reloadMaxms: round(Math.max(...took), 0),
        reloadInsideP50ms: round(quantile(inside, 0.5), 0),
        reloadInsideMaxms: round(Math.max(...inside), 0),
        acked: acked.length,
        refused: refusals,
        timeouts,
        replyP50ms: round(quantile(latencies, 0.5), 1),
        replyP99ms: round(quantile(latencies, 0.99), 1),
        events,
        seqGaps: gaps,
        lostAcked: missing.length,
        othersDropped: dropped.length,
        removedDisconnectedMs: removedGone !== undefined && removedAt !== undefined ? round(removedGone - removedAt, 0) : null,
        rssMaxMiB: round(w.rssMaxMiB(), 1),
      });
    } finally {
      await Promise.all([...devs.values()].map((d) => d.close()));
      const code = await w?.close();
      if (w && code !== 0) problems.push(`the daemon did not stop cleanly on SIGTERM (exit ${code})`);
    }
    return {
      passed: problems.length === 0,
      figures,
      problems,
      notCovered: [
        'reloads that change wired devices under load (the wired transport reopens changed lines; serial-storm covers the lines themselves)',
        'keys marked RESTART (ports, data directory, forwarding): a reload only names them',
        'a reload racing a rollover at the end of the business day',
      ],
    };
  },
};
