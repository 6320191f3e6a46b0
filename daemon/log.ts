/**
 * pino logging: JSON lines on stdout (systemd's journal keeps them), or a
 * readable form on a terminal. One child logger per module and device.
 *
 * Levels per module: `QHUB_LOG_LEVEL=info,mqtt=debug,wired=warn` (the first
 * bare level is everyone's), or `hub.logLevels: {mqtt: debug}` in the config
 * (the environment wins). A module's logger is the child made with its
 * `mod`; its devices' loggers inherit its level.
 */
import pino, { type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/** `info,mqtt=debug` → the default level and the per-module ones; unknown words are reported, not fatal. */
export function parseLevels(spec: string | undefined): { level?: string; modules: Record<string, string>; bad: string[] } {
  const out: { level?: string; modules: Record<string, string>; bad: string[] } = { modules: {}, bad: [] };
  for (const part of (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const [a, b] = part.split('=');
    if (b === undefined && LEVELS.has(a!)) out.level = a;
    else if (b !== undefined && LEVELS.has(b) && a) out.modules[a] = b;
    else out.bad.push(part);
  }
  return out;
}

export function createLogger(opts: { pretty?: boolean; level?: string; modules?: Record<string, string>; destination?: pino.DestinationStream } = {}): Logger {
  const env = parseLevels(process.env.QHUB_LOG_LEVEL);
  const level = opts.level ?? env.level ?? 'info';
  const modules = { ...(opts.modules ?? {}), ...env.modules };
  const root = opts.destination
    ? pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, opts.destination)
    : opts.pretty
    ? pino({
        level,
        transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', messageKey: 'msg', singleLine: true } },
      })
    : pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
  if (Object.keys(modules).length) {
    const child = root.child.bind(root);
    root.child = ((bindings: pino.Bindings, o?: pino.ChildLoggerOptions) => {
      const mod = typeof bindings.mod === 'string' ? modules[bindings.mod] : undefined;
      return child(bindings, mod ? { ...o, level: mod as LevelWithSilent } : o);
    }) as unknown as typeof root.child;
  }
  if (env.bad.length) root.warn({ mod: 'daemon', ignored: env.bad }, 'QHUB_LOG_LEVEL: parts not understood were ignored (use e.g. info,mqtt=debug)');
  return root;
}
