/** Log levels per module, from the environment and from the config, on the real daemon. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLevels } from '../daemon/log.js';
import { connectDevice, exampleSecrets, startHub, testCenter } from './helpers/hub.js';

const secrets = exampleSecrets();

describe('log levels per module', () => {
  it('parses "info,mqtt=debug" and names what it does not understand', () => {
    expect(parseLevels('info,mqtt=debug, wired=warn')).toEqual({ level: 'info', modules: { mqtt: 'debug', wired: 'warn' }, bad: [] });
    expect(parseLevels('loud,mqtt=verbose').bad).toEqual(['loud', 'mqtt=verbose']);
  });

  it('QHUB_LOG_LEVEL=info,mqtt=debug: debug lines from the broker only; hub.logLevels in the config does the same', async () => {
    for (const how of ['env', 'config'] as const) {
      const { dir, config } = testCenter((doc) => {
        if (how === 'config') doc.setIn(['hub', 'logLevels'], doc.createNode({ mqtt: 'debug', devices: 'warn' }));
      });
      const hub = await startHub(config, join(dir, 'data'), { QHUB_LOG_LEVEL: how === 'env' ? 'info,mqtt=debug,devices=warn' : 'info' });
      const d = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
      await d.request('press', { service: 'intake' }, 'ticket');
      await d.close();
      expect(await hub.stop()).toBe(0);
      const debug = hub.logs.filter((l) => l.level === 20);
      expect(debug.length, how).toBeGreaterThan(0);
      expect(new Set(debug.map((l) => l.mod)), how).toEqual(new Set(['mqtt']));
      expect(hub.logs.filter((l) => l.mod === 'devices' && (l.level as number) < 40), how).toEqual([]);
      expect(hub.logs.some((l) => l.msg === 'qhub ready'), how).toBe(true);
    }
  });
});
