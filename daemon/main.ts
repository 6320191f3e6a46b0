/** The daemon process: loads the config, runs the hub's modules, handles signals and fatal errors. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseDocument } from 'yaml';
import { ConfigError, EXAMPLE_CONFIG, formatProblem, loadCenter, type LoadedCenter } from '../config/load.js';
import { listenProblem, readyBanner, webHalls } from './first-contact.js';
import { createHub, type Hub, type ReloadResult } from './hub.js';
import { createLogger, type Logger } from './log.js';
import { ModuleStartError } from './spine/module.js';
import { removePidFile, writePidFile } from './backup/pidfile.js';
import { SystemdNotifier } from './systemd/notify.js';
import { statusLine } from './systemd/status.js';
import type { PanelLog } from './sim-panel.js';
import type { TerminalPanel } from './panel/terminal.js';

export interface DaemonOptions {
  configFile: string;
  dataDir?: string;
  pretty?: boolean;
  simulate?: {
    rate: number;
    duration?: number;
    /** The live panel of the hall on this terminal instead of log lines (the log goes to <data>/sim.log). */
    panel?: boolean;
    /** Calls spoken through this machine's audio out (aplay -D device), for every zone. */
    speak?: { device: string };
    /** The voice pack to speak from (else voice.pack of the config, under the data directory). */
    voicePack?: string;
  };
}

/** What `qhub sim` changes in the center it simulates: the calls spoken here, from the pack it was given. Applied at start and at every reload. */
function simulated(center: LoadedCenter, opts: DaemonOptions): LoadedCenter {
  const sim = opts.simulate;
  if (!sim) return center;
  const voice = center.config.voice;
  if (sim.voicePack) voice.pack = resolve(sim.voicePack);
  if (sim.speak) voice.local = { device: sim.speak.device, zones: [...new Set(center.config.windows.map((w) => w.zone))] };
  return center;
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Ids whose secret is one of the demo secrets shipped beside the example center. */
export function demoSecretsIn(center: Pick<LoadedCenter, 'secrets'>): string[] {
  let demo: Set<string>;
  try {
    const known = parseDocument(readFileSync(EXAMPLE_CONFIG.replace(/\.yaml$/, '.secrets.yaml'), 'utf8')).toJS() as Record<string, unknown>;
    demo = new Set(Object.values(known ?? {}).filter((v): v is string => typeof v === 'string'));
  } catch {
    return [];
  }
  return [...center.secrets].filter(([, s]) => demo.has(s)).map(([id]) => id);
}

/** Under systemd (it sets INVOCATION_ID for a service) or with NODE_ENV=production: a real installation. */
export function isProduction(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NODE_ENV === 'production' || !!env.INVOCATION_ID;
}

/**
 * Refuses the demo secrets on a real installation (anyone who read the
 * repository could log in as a keypad and call tickets), and says loudly
 * when the hub runs the example center or demo secrets from a checkout.
 * Returns false when the daemon must not start.
 */
function checkInstallation(center: LoadedCenter, log: Logger): boolean {
  const demo = demoSecretsIn(center);
  const example = resolve(center.file) === resolve(EXAMPLE_CONFIG);
  if (demo.length && isProduction()) {
    log.fatal(
      { mod: 'daemon', file: center.file, devices: demo },
      `${demo.length} device(s) use the demo secrets published with qhub (${demo.slice(0, 5).join(', ')}${demo.length > 5 ? ', ...' : ''}): anyone could log in as them. ` +
        'Give each device its own secret (e.g. openssl rand -hex 16) in the secrets file, then start again',
    );
    return false;
  }
  if (example || demo.length)
    log.warn(
      { mod: 'daemon', file: center.file, demoSecrets: demo.length },
      `DEMO SETUP: ${example ? 'running the bundled example center' : 'running a center'}${demo.length ? ` with ${demo.length} demo secrets` : ''} from a checkout; fine for trying qhub, not for a real center (copy and edit the config, generate secrets; see systemd/qhub.service)`,
    );
  return true;
}

export async function runDaemon(opts: DaemonOptions): Promise<number> {
  let log = createLogger({ pretty: opts.pretty });
  let center: LoadedCenter;
  try {
    center = simulated(loadCenter(opts.configFile), opts);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) log.error({ mod: 'config', file: p.file, line: p.line, path: p.path }, formatProblem(p));
    log.fatal({ mod: 'config', file: e.file }, 'the config file has problems: fix them (qhub check-config shows them all) and start again');
    return 1;
  }
  // The config's levels per module (QHUB_LOG_LEVEL still wins).
  if (Object.keys(center.config.hub.logLevels).length) log = createLogger({ pretty: opts.pretty, modules: center.config.hub.logLevels });
  const config = center.config;
  const dataDir = resolve(opts.dataDir ?? config.hub.dataDir ?? 'data');
  // The live panel owns the terminal: the log goes to a file, its warnings to the panel's last lines.
  let panelLog: PanelLog | undefined;
  if (opts.simulate?.panel) {
    panelLog = (await import('./sim-panel.js')).panelLogTo(join(dataDir, 'sim.log'), config.center.timezone);
    log = createLogger({ modules: config.hub.logLevels, destination: panelLog.destination });
  }
  for (const w of center.warnings) log.warn({ mod: 'config', file: w.file, line: w.line, path: w.path }, formatProblem(w));
  if (!checkInstallation(center, log)) return 1;

  let hub: Hub;
  // One reload at a time, in the order asked (SIGHUP, systemctl reload, qhub reload).
  let reloading: Promise<ReloadResult> = Promise.resolve({ ok: true, summary: '', waitForRestart: [] });
  const reload = (why: string): Promise<ReloadResult> =>
    (reloading = reloading.then(async (): Promise<ReloadResult> => {
      // systemd hears RELOADING=1 now and READY=1 when it is over, applied or refused (systemctl reload waits for it).
      notifier.reloading();
      try {
        return await reloadOnce(why);
      } finally {
        notifier.reloaded();
      }
    }));
  const reloadOnce = async (why: string): Promise<ReloadResult> => {
      log.info({ mod: 'daemon', why, file: opts.configFile }, 'reloading the config');
      let next: LoadedCenter;
      try {
        next = simulated(loadCenter(opts.configFile), opts);
      } catch (e) {
        if (!(e instanceof ConfigError)) {
          log.error({ mod: 'config', err: e }, 'reload refused: the config file could not be read; the running config stays');
          return { ok: false, summary: `refused: ${(e as Error).message}`, waitForRestart: [], problems: [(e as Error).message] };
        }
        for (const p of e.problems) log.error({ mod: 'config', file: p.file, line: p.line, path: p.path }, formatProblem(p));
        log.error({ mod: 'config', file: e.file }, 'reload refused: the config file has problems (above); the running config stays');
        return { ok: false, summary: 'refused: the config file has problems', waitForRestart: [], problems: e.problems.map(formatProblem) };
      }
      for (const w of next.warnings) log.warn({ mod: 'config', file: w.file, line: w.line, path: w.path }, formatProblem(w));
      if (!checkInstallation(next, log)) return { ok: false, summary: 'refused: demo secrets on a real installation', waitForRestart: [], problems: ['the config uses the published demo secrets'] };
      const r = await hub.applyConfig(next);
      log.info({ mod: 'daemon', waitForRestart: r.waitForRestart, ...(r.failed ? { failed: r.failed } : {}) }, `config reloaded: ${r.summary}`);
      return r;
    };
  hub = createHub({ center, dataDir, log, version: VERSION, reload: () => reload('qhub reload') });
  // systemd Type=notify (nothing without NOTIFY_SOCKET): READY, STATUS, WATCHDOG, STOPPING.
  const notifier = new SystemdNotifier({ log, status: () => statusLine(hub.http.healthReport().body, hub.ctx.config.services.reduce((n, s) => n + hub.ctx.core.engine.waitingCount(s.id), 0)) });
  notifier.start();
  let sim: { stop(): Promise<void> } | undefined;
  let panel: TerminalPanel | undefined;
  // How the run ends when the panel's q is pressed (the same as a SIGTERM).
  let quit: (code: number) => void = () => {};
  let stopping: Promise<number> | undefined;
  const shutdown = (why: string, code: number): Promise<number> =>
    (stopping ??= (async () => {
      log.info({ mod: 'daemon', why }, 'stopping: no new commands, finishing what is in flight');
      notifier.stopping();
      panel?.stop();
      await sim?.stop().catch(() => undefined);
      await hub.stop();
      removePidFile(dataDir);
      notifier.close();
      log.info({ mod: 'daemon', seq: hub.ctx.core.store.lastSeq }, 'stopped: store closed');
      if (panelLog) {
        panelLog.flush();
        process.stdout.write(`qhub sim stopped (${why}); this run's log: ${panelLog.file}\n`);
      }
      return code;
    })());

  // systemctl reload qhub, kill -HUP: re-read the config; never ends the hub (a HUP during start-up is only logged).
  let ready = false;
  process.on('SIGHUP', () => {
    if (ready) void reload('SIGHUP');
    else log.warn({ mod: 'daemon' }, 'SIGHUP during start-up: ignored; send it again once the hub is ready');
  });
  try {
    await hub.start();
  } catch (e) {
    const cause = e instanceof ModuleStartError ? (e.cause as NodeJS.ErrnoException) : (e as NodeJS.ErrnoException);
    const what = e instanceof ModuleStartError ? e.module : 'daemon';
    // A port in use or forbidden: the port, the config key and its FILE:LINE.
    const port = listenProblem(cause, what, config, center.file);
    log.fatal({ mod: what, err: cause, dataDir }, port ?? (what === 'core' ? (cause as Error).message : `cannot start ${what}: ${(cause as Error)?.message ?? String(cause)}`));
    await shutdown('start failed', 1);
    return 1;
  }
  ready = true;
  const ports = hub.broker.ports;
  log.info(
    { mod: 'daemon', mqtt: ports.mqtt, tls: ports.tls, http: hub.http.port, dataDir, center: config.center.id, day: hub.ctx.core.engine.state.day, seq: hub.ctx.core.store.lastSeq, modules: hub.ctx.modules.names(), version: VERSION },
    'qhub ready',
  );
  writePidFile(dataDir);
  notifier.ready();
  // On a terminal (npm start): where to look and what to do next, in one block.
  if (opts.pretty)
    log.info(
      { mod: 'daemon' },
      readyBanner({ http: hub.http.port!, mqtt: ports.mqtt!, httpHost: config.hub.http.host, configFile: center.file, dataDir, example: resolve(center.file) === resolve(EXAMPLE_CONFIG), simulated: !!opts.simulate, halls: webHalls(hub.ctx.config) }),
    );

  if (opts.simulate) {
    const { startSimulation } = await import('./sim.js');
    if (panelLog) {
      panel = await (await import('./sim-panel.js')).openPanel({ config, dataDir, ports: { http: hub.http.port!, mqtt: ports.mqtt! }, logFile: panelLog.file, speak: opts.simulate.speak, onQuit: () => void shutdown('q pressed', 0).then(quit) });
      panelLog.to(panel);
    }
    sim = await startSimulation({ config, secrets: center.secrets, port: ports.mqtt!, log: log.child({ mod: 'sim' }), ratePerMinute: opts.simulate.rate, ...(panel ? { watch: panel } : {}) });
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
  testOnlyLoopBlocker(log);
  testOnlyHeapProbe(log);
  return new Promise<number>((res) => {
    quit = res;
    const on = (sig: string) => () => void shutdown(sig, 0).then(res);
    process.once('SIGTERM', on('SIGTERM'));
    process.once('SIGINT', on('SIGINT'));

  });
}

/**
 * Tests only (NODE_ENV=test): QHUB_TEST_HEAP_ON=SIGUSR2 makes that signal run
 * a full garbage collection and log the heap that survived it ("test: heap
 * after a full collection", heapUsedMiB): what a chaos run compares between
 * two rounds of the same abuse to tell a leak from a heap V8 merely grew.
 */
function testOnlyHeapProbe(log: Logger): void {
  const sig = process.env.QHUB_TEST_HEAP_ON;
  if (!sig || process.env.NODE_ENV !== 'test') return;
  process.on(sig as NodeJS.Signals, () => {
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
    const m = process.memoryUsage();
    const mib = (x: number) => Math.round((x / 1048576) * 10) / 10;
    log.info({ mod: 'daemon', heapUsedMiB: mib(m.heapUsed), heapTotalMiB: mib(m.heapTotal), externalMiB: mib(m.external), arrayBuffersMiB: mib(m.arrayBuffers), rssMiB: mib(m.rss) }, 'test: heap after a full collection');
  });
}

/**
 * Tests only (NODE_ENV=test): QHUB_TEST_BLOCK_LOOP_ON=SIGUSR2 makes that
 * signal busy-wait the event loop for QHUB_TEST_BLOCK_LOOP_MS (default 3000),
 * as a stuck handler would, so a test can see the systemd watchdog pings stop.
 */
function testOnlyLoopBlocker(log: Logger): void {
  const sig = process.env.QHUB_TEST_BLOCK_LOOP_ON;
  if (!sig || process.env.NODE_ENV !== 'test') return;
  const ms = Number(process.env.QHUB_TEST_BLOCK_LOOP_MS ?? 3000);
  process.on(sig as NodeJS.Signals, () => {
    log.warn({ mod: 'daemon', ms }, 'test: blocking the event loop');
    const until = performance.now() + ms;
    while (performance.now() < until) {
      /* busy: nothing else runs */
    }
  });
}
