/**
 * pino logging: JSON lines on stdout (systemd's journal keeps them), or a
 * readable form on a terminal. One child logger per module and device.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { pretty?: boolean; level?: string } = {}): Logger {
  const level = opts.level ?? process.env.QHUB_LOG_LEVEL ?? 'info';
  if (opts.pretty) {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', messageKey: 'msg', singleLine: true } },
    });
  }
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}
