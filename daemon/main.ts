/** The daemon process: wires the core and its modules, handles signals. */
import { resolve } from 'node:path';
import { loadCenter } from '../config/load.js';
import { Core } from './core.js';
import { createLogger } from './log.js';

export interface DaemonOptions {
  configFile: string;
  dataDir?: string;
  pretty?: boolean;
  simulate?: { rate: number; duration?: number };
}

export async function runDaemon(opts: DaemonOptions): Promise<number> {
  const log = createLogger({ pretty: opts.pretty });
  const center = loadCenter(opts.configFile);
  for (const w of center.warnings) log.warn({ mod: 'config', file: w.file, line: w.line, path: w.path }, w.message);
  const dataDir = resolve(opts.dataDir ?? center.config.hub.dataDir ?? 'data');
  const core = new Core({ config: center.config, dataDir, log: log.child({ mod: 'core' }) });
  core.start();
  log.info({ mod: 'daemon', dataDir }, 'qhub started');
  await new Promise<void>((res) => {
    process.once('SIGTERM', res);
    process.once('SIGINT', res);
  });
  core.stop();
  return 0;
}
