/**
 * `qhub sim`'s panel wiring: the log to a file with its warnings on the
 * panel, and the panel reading the hub through its local socket — the same
 * command table and answers as `qhub status`, `queues`, `windows`, `devices`.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { CenterConfig } from '../config/schema.js';
import { socketPath } from './api/socket.js';
import { ask } from './ctl.js';
import { browserHost, webHalls } from './first-contact.js';
import { clock } from './panel/render.js';
import { TerminalPanel } from './panel/terminal.js';

export interface PanelLog {
  file: string;
  destination: pino.DestinationStream;
  /** From now on the warnings go to this panel (those before it are kept for it). */
  to(panel: { logLine(line: string): void }): void;
  flush(): void;
}

const LEVEL: Record<number, string> = { 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** One log record as a line a person reads: time, level, module/device, message. */
export function readable(json: string, timeZone?: string): string | undefined {
  try {
    const r = JSON.parse(json) as { level: number; time?: string; mod?: string; device?: string; msg?: string; err?: unknown };
    const err = typeof r.err === 'string' ? r.err : (r.err as { message?: string } | undefined)?.message;
    const ms = typeof r.time === 'string' ? Date.parse(r.time) : NaN;
    const time = Number.isNaN(ms) ? '' : clock(ms, timeZone);
    return `${time} ${LEVEL[r.level] ?? r.level} ${[r.mod, r.device].filter(Boolean).join('/')}: ${r.msg ?? ''}${err ? ` (${err})` : ''}`;
  } catch {
    return undefined;
  }
}

/** The whole log as JSON lines in `file`; warnings and worse also to the panel (their times in the center's zone). */
export function panelLogTo(file: string, timeZone?: string): PanelLog {
  mkdirSync(dirname(file), { recursive: true });
  const fileOut = pino.destination({ dest: file, append: true, sync: true });
  const early: string[] = [];
  let panel: { logLine(line: string): void } | undefined;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) {
        const line = l.trim() && readable(l, timeZone);
        if (!line) continue;
        if (panel) panel.logLine(line);
        else early.push(line);
      }
      done();
    },
  });
  return {
    file,
    destination: pino.multistream([
      { level: 'trace', stream: fileOut },
      { level: 'warn', stream: sink },
    ]),
    to(p) {
      panel = p;
      for (const l of early.splice(0)) p.logLine(l);
    },
    flush: () => fileOut.flushSync(),
  };
}

export interface OpenPanelOptions {
  config: CenterConfig;
  dataDir: string;
  ports: { http: number; mqtt: number };
  logFile: string;
  speak?: { device: string };
  onQuit(): void;
}

/** Puts the panel on this terminal (stdout), reading the hub over its socket. */
export async function openPanel(o: OpenPanelOptions): Promise<TerminalPanel> {
  const path = socketPath(o.dataDir, o.config);
  const host = browserHost(o.config.hub.http.host);
  const halls = webHalls(o.config);
  const pack = resolve(o.dataDir, o.config.voice.pack);
  const clips = existsSync(pack) ? readdirSync(pack, { recursive: true }).filter((f) => String(f).endsWith('.wav')).length : 0;
  const voice = o.speak
    ? clips
      ? `calls are spoken here: aplay -D ${o.speak.device}, from the pack ${pack} (${clips} clips)`
      : `calls would be spoken here (aplay -D ${o.speak.device}) but ${pack} has no clips: qhub voice pack --data ${o.dataDir}`
    : `calls are not spoken on this machine (qhub sim --speak plays them through its audio out); the speakers were told:`;
  const name = o.config.center.name as Record<string, string>;
  const panel = new TerminalPanel({
    out: process.stdout,
    input: process.stdin,
    read: async (action) => {
      const a = await ask(path, action, {}, 5000);
      if (!a.ok) throw new Error(a.message ?? a.error ?? `${action} refused`);
      return a.result;
    },
    title: `qhub sim — ${o.config.center.id} ${name.en ?? name.ar ?? ''}   (q quits)`,
    timeZone: o.config.center.timezone,
    hint: `pages http://${host}:${o.ports.http}/login${halls.map((z) => `   hall TV http://${host}:${o.ports.http}/hall/${z}`).join('')}   MQTT :${o.ports.mqtt}   log ${o.logFile}`,
    voice,
    boards: o.config.devices.filter((d) => d.enabled && d.kind === 'board' && d.transport.type === 'mqtt').map((d) => d.id),
    onQuit: o.onQuit,
  });
  panel.start();
  return panel;
}
