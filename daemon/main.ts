/** The daemon process: wires the core and its modules, handles signals and fatal errors. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, loadCenter, formatProblem } from '../config/load.js';
import { Broker } from './broker.js';
import { Core } from './core.js';
import { DeviceHub } from './devices.js';
import { HttpServer } from './http.js';
import { createLogger } from './log.js';

export interface DaemonOptions {
  configFile: string;
  dataDir?: string;
  pretty?: boolean;
  simulate?: { rate: number; duration?: number };
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export async function runDaemon(opts: DaemonOptions): Promise<number> {
  const log = createLogger({ pretty: opts.pretty });
  let center;
  try {
    center = loadCenter(opts.configFile);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) log.error({ mod: 'config', file: p.file, line: p.line, path: p.path }, formatProblem(p));
    log.fatal({ mod: 'config', file: e.file }, 'the config file has problems: fix them (qhub check-config shows them all) and start again');
    return 1;
  }
  for (const w of center.warnings) log.warn({ mod: 'config', file: w.file, line: w.line, path: w.path }, formatProblem(w));
  const config = center.config;
  const dataDir = resolve(opts.dataDir ?? config.hub.dataDir ?? 'data');

  const core = new Core({ config, dataDir, log: log.child({ mod: 'core' }) });
  try {
    core.start();
  } catch (e) {
    log.fatal({ mod: 'core', err: e, dataDir }, (e as Error).message);
    return 1;
  }

  let hub: DeviceHub | undefined;
  const broker = new Broker({
    config,
    secrets: center.secrets,
    log: log.child({ mod: 'broker' }),
    onRequest: (d, leaf, payload) => hub?.request(d, leaf, payload),
  });
  const http = new HttpServer({ core, broker, log: log.child({ mod: 'http' }), version: VERSION });
  hub = new DeviceHub({ config, core, broker, log: log.child({ mod: 'devices' }) });

  let sim: { stop(): Promise<void> } | undefined;
  const ticker = setInterval(() => {
    const r = core.tick();
    if (!r.ok) log.error({ mod: 'core', code: r.error.code }, 'day rollover could not be saved; will retry');
  }, 15_000);

  let stopping: Promise<number> | undefined;
  const shutdown = (why: string, code: number): Promise<number> =>
    (stopping ??= (async () => {
      log.info({ mod: 'daemon', why }, 'stopping: no new commands, finishing what is in flight');
      clearInterval(ticker);
      broker.closing = true;
      await sim?.stop().catch(() => undefined);
      hub?.stop();
      await broker.stop().catch((e: unknown) => log.warn({ err: e }, 'broker did not close cleanly'));
      await http.close();
      core.stop();
      log.info({ mod: 'daemon', seq: core.store.lastSeq }, 'stopped: store closed');
      return code;
    })());

  try {
    await broker.start(http.server);
    hub.start();
    await http.listen(config.hub.http.port, config.hub.http.host);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const hint = err.code === 'EADDRINUSE' ? ': another program uses this port; stop it or change hub.mqtt.port / hub.http.port' : err.code === 'EACCES' ? ': ports below 1024 need privileges' : '';
    log.fatal({ mod: 'daemon', err }, `cannot listen${hint}`);
    await shutdown('start failed', 1);
    return 1;
  }
  log.info(
    { mod: 'daemon', mqtt: broker.ports.mqtt, tls: broker.ports.tls, http: http.port, dataDir, center: config.center.id, day: core.engine.state.day, seq: core.store.lastSeq, version: VERSION },
    'qhub ready',
  );

  if (opts.simulate) {
    const { startSimulation } = await import('./sim.js');
    sim = await startSimulation({ config, secrets: center.secrets, port: broker.ports.mqtt!, log: log.child({ mod: 'sim' }), ratePerMinute: opts.simulate.rate });
    if (opts.simulate.duration) setTimeout(() => process.kill(process.pid, 'SIGTERM'), opts.simulate.duration * 1000).unref();
  }

  process.on('uncaughtException', (e) => {
    log.fatal({ err: e }, 'uncaught exception: exiting so systemd restarts the hub');
    void shutdown('fatal error', 70).finally(() => process.exit(70));
  });
  process.on('unhandledRejection', (e) => {
    log.fatal({ err: e }, 'unhandled rejection: exiting so systemd restarts the hub');
    void shutdown('fatal error', 70).finally(() => process.exit(70));
  });
  return new Promise<number>((res) => {
    const on = (sig: string) => () => void shutdown(sig, 0).then(res);
    process.once('SIGTERM', on('SIGTERM'));
    process.once('SIGINT', on('SIGINT'));
  });
}
