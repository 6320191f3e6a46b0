/**
 * Process death: the daemon SIGKILLed at random moments while two dispensers
 * press and three keypads call as real MQTT clients (each request retried
 * with its id until answered). After all the kills: no acknowledged ticket or
 * call lost, no number given twice, the log gap-free, and the webhook
 * receiver and an upstream mosquitto each got every event exactly once after
 * dropping repeated keys, in order.
 */
import { join } from 'node:path';
import type { RunningHub } from '../../helpers/hub.js';
import type { Scenario } from '../scenario.js';
import { Children, checkLog, chaosCenter, Device, freePort, Load, percentile, readLog, Receiver, settle, sleep, startTimed, Upstream } from '../lib.js';

export const kill: Scenario = {
  name: 'kill',
  title: 'SIGKILL the daemon at random moments under load (dispensers, keypads, webhook, upstream mosquitto)',
  budgetMs: { full: 900_000, short: 150_000 },
  async run(ctx) {
    const rounds = ctx.short ? 8 : 50;
    const children = new Children();
    const problems: string[] = [];
    const restartMs: number[] = [];
    let kills = 0;
    try {
      const mqttPort = await freePort();
      const receiver = new Receiver();
      await receiver.listen();
      children.add(() => receiver.close());
      const upstream = new Upstream(ctx.workDir, await freePort());
      await upstream.start();
      children.add(() => upstream.stop());
      const { config } = chaosCenter({ mqttPort, webhookPort: receiver.port, upstreamPort: upstream.port });
      const dataDir = join(ctx.workDir, 'data');

      let hub: RunningHub | undefined;
      children.add(async () => hub?.kill());
      const first = await startTimed(config, dataDir);
      hub = first.hub;
      const devices = ['disp-1', 'disp-2', 'kp-1', 'kp-2', 'kp-5'].map((id) => new Device(id, mqttPort));
      await Promise.all(devices.map((d) => d.start()));
      children.add(() => Promise.all(devices.map((d) => d.close())));
      const stopLoad = new AbortController();
      ctx.signal.addEventListener('abort', () => stopLoad.abort(), { once: true });
      const load = new Load(devices, 'k');
      load.run(stopLoad.signal);

      for (let round = 0; round < rounds && !ctx.signal.aborted; round++) {
        // A random moment under load: 150 ms to 1.5 s after the hub said ready.
        await sleep(150 + Math.random() * 1350, ctx.signal);
        await hub.kill();
        kills++;
        // Sometimes down for a while (devices retry meanwhile), sometimes back at once.
        if (Math.random() < 0.3) await sleep(Math.random() * 800);
        const s = await startTimed(config, dataDir);
        hub = s.hub;
        restartMs.push(s.ms);
        ctx.progress(`kill ${kills}/${rounds}: ${load.acks.length} acknowledged, restart ${s.ms.toFixed(0)} ms`);
      }
      // Let the devices finish what is in flight against a live hub, then drain the forwarders.
      stopLoad.abort();
      await load.done();
      if ((await settle(hub, [receiver.taken, upstream.taken])) === undefined) problems.push('the forwarders did not deliver the whole log within 60 s of the last restart');
      await hub.stop();
      hub = undefined;

      const log = readLog(dataDir);
      const c = checkLog(log, load.acks);
      problems.push(...c.problems);
      problems.push(...receiver.taken.check('the webhook receiver', c.events));
      problems.push(...upstream.taken.check('the upstream broker', c.events));
      if (receiver.badSignatures) problems.push(`${receiver.badSignatures} webhook batches had a bad signature`);
      // At least one acknowledged press per kill: the kills landed under load (restarts take seconds on a busy machine).
      if (load.acks.filter((a) => a.kind === 'press').length < rounds) problems.push(`too little load to mean anything: ${load.acks.filter((a) => a.kind === 'press').length} presses acknowledged over ${rounds} kills`);
      if (load.refused) problems.push(`${load.refused} requests refused: ${load.refusals.join(' | ')}`);
      return {
        passed: problems.length === 0,
        problems,
        figures: {
          kills,
          acked: load.acks.filter((a) => a.kind === 'press').length,
          calls: load.acks.filter((a) => a.kind === 'call').length,
          lost: c.lost,
          reused: c.reused,
          doubledIds: c.doubled,
          gaps: c.gaps,
          events: c.events,
          webhookTaken: receiver.taken.events.length,
          webhookUnique: receiver.taken.unique().length,
          upstreamTaken: upstream.taken.events.length,
          upstreamUnique: upstream.taken.unique().length,
          restartP50Ms: Math.round(percentile(restartMs, 50) ?? 0),
          restartMaxMs: Math.round(Math.max(0, ...restartMs)),
        },
        notCovered: [
          'kills land in user space only: what the kernel had accepted (written, fsynced) survives; the power scenario covers lost page cache',
          'three keypads and two dispensers, one request in flight each; not the full center of 25 devices',
        ],
      };
    } finally {
      await children.closeAll();
    }
  },
};
