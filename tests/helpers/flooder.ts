/**
 * A misbehaving device in its own process: connects with valid credentials
 * and publishes presses as fast as it can for `seconds`.
 * argv: PORT ID SECRET SECONDS
 */
import mqtt from 'mqtt';

const [port, id, secret, seconds] = process.argv.slice(2) as [string, string, string, string];
const client = mqtt.connect({ host: '127.0.0.1', port: Number(port), clientId: id, username: id, password: secret, protocolVersion: 4, reconnectPeriod: 200 });
let sent = 0;
let errors = 0;
client.on('message', (topic) => {
  if (topic.endsWith('/error')) errors++;
});
client.on('connect', () => {
  client.subscribe(`qhub/dev/${id}/error`);
  process.stdout.write('FLOODING\n');
});
const end = Date.now() + Number(seconds) * 1000;
const pump = () => {
  if (Date.now() > end) {
    process.stdout.write(`SENT ${sent} ERRORS ${errors}\n`);
    process.exit(0);
  }
  const backlog = (client.stream as { writableLength?: number } | undefined)?.writableLength ?? 0;
  // Keep the socket full without piling up gigabytes in this process.
  if (client.connected && backlog < 256 * 1024) for (let i = 0; i < 100; i++) client.publish(`qhub/dev/${id}/press`, JSON.stringify({ v: 1, id: `f${sent++}`, service: 'intake' }), { qos: 0 });
  setImmediate(pump);
};
pump();
