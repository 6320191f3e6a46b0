/**
 * docs/PROTOCOL.md: "The PUBACK of a request comes after its reply". A
 * keypad (the compiled daemon, a real mqtt.js client) sends 20 commands and
 * reads the packets as they arrive: each `screen` reply (its `re`) is on the
 * wire before the PUBACK of the request it answers. (Before the hub wrote a
 * device's views to its connection itself, Aedes wrote them a loop turn
 * later, after the PUBACK.) A dispenser's press and its ticket (QoS 1)
 * likewise.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, exampleSecrets, startHub, testCenter, type RunningHub, type TestDevice } from './helpers/hub.js';

describe("a keypad's reply and the PUBACK of its request", () => {
  let hub: RunningHub;
  let kp: TestDevice;
  let disp: TestDevice;

  beforeAll(async () => {
    const { dir, config } = testCenter();
    hub = await startHub(config, join(dir, 'data'));
    kp = await connectDevice(hub.mqttPort, 'kp-1', exampleSecrets()['kp-1']!);
    disp = await connectDevice(hub.mqttPort, 'disp-1', exampleSecrets()['disp-1']!);
  });

  afterAll(async () => {
    await kp?.close();
    await disp?.close();
    await hub?.stop();
  });

  it('the reply comes first, for every one of 20 commands', async () => {
    const order: string[] = [];
    const ids = new Map<number, string>();
    kp.client.on('packetreceive', (p) => {
      if (p.cmd === 'puback') order.push(`puback:${ids.get(p.messageId!) ?? p.messageId}`);
      if (p.cmd === 'publish' && p.topic === 'qhub/dev/kp-1/screen') {
        const re = (JSON.parse(p.payload.toString()) as { re?: string }).re;
        if (re) order.push(`reply:${re}`);
      }
    });
    kp.client.on('packetsend', (p) => {
      if (p.cmd === 'publish' && p.topic === 'qhub/dev/kp-1/cmd') ids.set(p.messageId!, (JSON.parse(p.payload.toString()) as { id: string }).id);
    });
    const cmds = ['screen', 'open', 'pause', 'open', 'screen'];
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      const id = `order-${i}`;
      sent.push(id);
      const r = await kp.request('cmd', { id, cmd: cmds[i % cmds.length] }, 'screen');
      expect(r.leaf, JSON.stringify(r.body)).toBe('screen');
    }
    for (const id of sent) {
      const reply = order.indexOf(`reply:${id}`);
      const ack = order.indexOf(`puback:${id}`);
      expect(reply, `${id}: ${order.join(' ')}`).toBeGreaterThanOrEqual(0);
      expect(ack, `${id}: ${order.join(' ')}`).toBeGreaterThan(reply);
    }
  });

  it("the ticket comes before the PUBACK of the press, for every one of 10 presses (a QoS 1 reply)", async () => {
    const order: string[] = [];
    const ids = new Map<number, string>();
    disp.client.on('packetreceive', (p) => {
      if (p.cmd === 'puback' && ids.has(p.messageId!)) order.push(`puback:${ids.get(p.messageId!)}`);
      if (p.cmd === 'publish' && p.topic === 'qhub/dev/disp-1/ticket') order.push(`reply:${(JSON.parse(p.payload.toString()) as { re?: string }).re}`);
    });
    disp.client.on('packetsend', (p) => {
      if (p.cmd === 'publish' && p.topic === 'qhub/dev/disp-1/press') ids.set(p.messageId!, (JSON.parse(p.payload.toString()) as { id: string }).id);
    });
    for (let i = 0; i < 10; i++) {
      const id = `press-order-${i}`;
      const r = await disp.request('press', { id, service: 'intake' }, 'ticket');
      expect(r.leaf, JSON.stringify(r.body)).toBe('ticket');
      const reply = order.indexOf(`reply:${id}`);
      expect(reply, `${id}: ${order.join(' ')}`).toBeGreaterThanOrEqual(0);
      expect(order.indexOf(`puback:${id}`), `${id}: ${order.join(' ')}`).toBeGreaterThan(reply);
    }
  });
});
