/**
 * Abuse at the device door (the MQTT port): garbage and binary before and
 * after login, 50 MB packets, unauthorized clients, a logged-in device at
 * 10,000 messages a second, a reconnect loop and a SUBSCRIBE flood, one
 * after the other, while a quiet keypad and board keep calling.
 */
import mqtt from 'mqtt';
import type { Scenario } from '../scenario.js';
import { abuseRun, secrets } from '../lib-abuse.js';

export const abuseMqtt: Scenario = {
  name: 'abuse-mqtt',
  title: 'garbage, 50 MB packets, bad logins, 10,000 msg/s, reconnect loops and SUBSCRIBE floods at the MQTT port; the daemon lives, memory and log bounded, other devices within 2× their quiet call latency',
  budgetMs: { full: 420_000, short: 90_000 },
  async run(ctx) {
    const r = await abuseRun(ctx, {
      phases: [{ mode: 'garbage' }, { mode: 'garbage-after-login' }, { mode: 'oversize' }, { mode: 'unauth' }, { mode: 'flood' }, { mode: 'reconnect' }, { mode: 'subflood' }],
      logBytesPerS: 1024,
      rssHeadroomMiB: 64,
      rssSecondRoundMiB: 8,
      async finally(w) {
        // Every abused device id can still log in and be served once the abuse stopped.
        const problems: string[] = [];
        for (const id of ['disp-2', 'kp-4', 'kp-5', 'kp-6', 'kp-7']) {
          let ok = false;
          for (let i = 0; i < 20 && !ok; i++) {
            try {
              const c = await mqtt.connectAsync({ host: '127.0.0.1', port: w.hub.mqttPort, clientId: id, username: id, password: secrets[id], protocolVersion: 4, reconnectPeriod: 0 });
              ok = true;
              await c.endAsync(true);
            } catch {
              await new Promise((res) => setTimeout(res, 500));
            }
          }
          if (!ok) problems.push(`${id} could not log in again within 10 s after the abuse`);
        }
        return problems;
      },
    });
    r.notCovered = [
      'abusers run on the same two cores as the hub (at nice 19), not on another machine',
      'TLS and MQTT-over-WebSocket listeners (same guard, not driven here)',
      'many source addresses (everything comes from 127.0.0.1, which hub.mqtt.maxConnectionsPerAddress does not count)',
      'MQTT 5 packets (Aedes speaks 3.1.1)',
    ];
    return r;
  },
};
