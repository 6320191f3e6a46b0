/**
 * The benchmark's floor: a bare embedded Aedes broker in its own process,
 * answering each request the way the hub does (in the publish hook, with a
 * QoS 1 publish to the sender's reply topic) but doing no work in between.
 * Sockets with TCP_NODELAY, as the hub's. Prints "PORT n" when listening.
 */
import { Aedes } from 'aedes';
import { createServer, type AddressInfo } from 'node:net';

const aedes = await Aedes.createBroker({
  authorizePublish: (client, packet, cb) => {
    const m = /^bench\/req\/(.+)$/.exec(packet.topic);
    if (!client || !m) return cb(null);
    aedes.publish({ cmd: 'publish', topic: `bench/res/${m[1]}`, payload: packet.payload, qos: 1, retain: false, dup: false }, () => undefined);
    packet.topic = '$bench/void';
    cb(null);
  },
});
const server = createServer((s) => {
  s.setNoDelay(true);
  aedes.handle(s);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`PORT ${(server.address() as AddressInfo).port}\n`));
process.on('SIGTERM', () => {
  server.close();
  aedes.close(() => process.exit(0));
});
