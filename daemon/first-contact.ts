/**
 * What the daemon says to a person at start-up: why it cannot listen (the
 * port, the config key and its FILE:LINE), and, once ready on a terminal,
 * where to look and what to do next.
 */
import { lineOfKey } from '../config/load.js';
import type { CenterConfig } from '../config/schema.js';

/** The config key whose port a module could not listen on. */
function portKey(config: CenterConfig, module: string, port: number | undefined): string[] | undefined {
  if (module === 'http') return ['hub', 'http', 'port'];
  if (module === 'mqtt') return config.hub.mqtt.tls && port === config.hub.mqtt.tls.port ? ['hub', 'mqtt', 'tls', 'port'] : ['hub', 'mqtt', 'port'];
  return undefined;
}

/**
 * "port 1883 on 0.0.0.0 is in use by another program: … or change hub.mqtt.port
 * (/etc/qhub/center.yaml:243)" for an EADDRINUSE/EACCES from `listen`; undefined for anything else.
 */
export function listenProblem(e: NodeJS.ErrnoException & { port?: number; address?: string }, module: string, config: CenterConfig, file: string): string | undefined {
  if (e?.syscall !== 'listen' || (e.code !== 'EADDRINUSE' && e.code !== 'EACCES')) return undefined;
  const key = portKey(config, module, e.port);
  const where = key ? `${key.join('.')} (${file}:${lineOfKey(file, key)})` : 'its port in the config';
  const port = `port ${e.port ?? '?'}${e.address ? ` on ${e.address}` : ''}`;
  return e.code === 'EADDRINUSE'
    ? `cannot start ${module}: ${port} is in use by another program (sudo ss -ltnp 'sport = :${e.port}' names it): stop it, or change ${where}`
    : `cannot start ${module}: ${port} needs privileges (ports below 1024): choose a port from 1024 up in ${where}`;
}

/** The lines a person reads when the hub is ready on a terminal (`npm start`). */
/** The host to type in a browser on this machine for a listen address (any address: localhost). */
export function browserHost(listen: string): string {
  return listen === '0.0.0.0' || listen === '::' ? 'localhost' : listen;
}

export function readyBanner(o: { http: number; mqtt: number; httpHost: string; configFile: string; dataDir: string; example: boolean; simulated: boolean; halls?: string[] }): string {
  const host = browserHost(o.httpHost);
  const lines = [
    `qhub is ready.`,
    `  health:      http://${host}:${o.http}/health`,
    `  devices:     MQTT on port ${o.mqtt} (docs/PROTOCOL.md)`,
    `  pages:       http://${host}:${o.http}/login (keypad, dashboard, reception)`,
    ...(o.halls?.length
      ? o.halls.map((z) => `  hall TV:     http://${host}:${o.http}/hall/${z} (zone ${z}: calls, announcements, waiting counts)`)
      : [`  hall TV:     http://${host}:${o.http}/hall/<zone> (give the zone a web board and speaker first, docs/WEB.md)`]),
    `  API:         http://${host}:${o.http}/api/v1 (docs/API.md); on this machine: npx qhub status, npx qhub window 1 next`,
    `  config:      ${o.configFile}`,
    `  data:        ${o.dataDir}`,
    `next:`,
    ...(o.simulated
      ? [`  the simulated devices are pressing and calling; watch the lines below`]
      : o.example
        ? [`  npm run demo                      the same center with simulated devices`, `  cp config/center.example.yaml my-center.yaml, edit it, then: npx qhub check-config my-center.yaml`]
        : [`  npx qhub check-config ${o.configFile}`]),
    `  npx qhub user add me --role supervisor   a login for the pages and the API (asks for a password)`,
    `  docs/INSTALL.md                   installing on a Raspberry Pi`,
    `  Ctrl-C                            stop (nothing is lost: every step is on disk before it is shown)`,
  ];
  return lines.join('\n');
}

/** The zones with a web board: each has a hall page worth opening. */
export function webHalls(config: CenterConfig): string[] {
  const zoneOf = (d: CenterConfig['devices'][number]) => d.bind.zone ?? config.windows.find((w) => w.number === d.bind.window)?.zone ?? 'hall';
  return [...new Set(config.devices.filter((d) => d.enabled && d.transport.type === 'web' && d.kind === 'board').map(zoneOf))];
}
