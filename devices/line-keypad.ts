/**
 * A window keypad on qhub's ASCII line protocol (docs/LINE-PROTOCOL.md):
 * `K <n> NEXT`, `K <n> CALL A042`, … become the same `cmd` requests an MQTT
 * keypad publishes; its screen comes back as one `S` line.
 */
import { field, openLineDevice } from './line-session.js';
import type { ModelDefinition } from './model.js';

/** Line verbs → protocol commands; those taking a ticket number or a service say so. */
const COMMANDS: Record<string, { cmd: string; arg?: 'ticket' | 'service' | 'inquiry' }> = {
  NEXT: { cmd: 'next' },
  RECALL: { cmd: 'recall' },
  START: { cmd: 'start' },
  DONE: { cmd: 'done' },
  NOSHOW: { cmd: 'noShow' },
  PARK: { cmd: 'park' },
  OPEN: { cmd: 'open' },
  PAUSE: { cmd: 'pause' },
  CLOSE: { cmd: 'close' },
  SCREEN: { cmd: 'screen' },
  CALL: { cmd: 'call', arg: 'ticket' },
  RESUME: { cmd: 'resume', arg: 'ticket' },
  RETURN: { cmd: 'return', arg: 'ticket' },
  TRANSFER: { cmd: 'transfer', arg: 'service' },
  INQUIRY: { cmd: 'callInquiry', arg: 'inquiry' },
};

export const lineKeypad: ModelDefinition = {
  model: 'line-keypad',
  kind: 'keypad',
  description: 'window keypad on a serial line speaking the ASCII line protocol (docs/LINE-PROTOCOL.md)',
  transports: ['serial'],
  sends: ['cmd'],
  accepts: ['screen', 'error'],
  wired: {
    open: (io) =>
      openLineDevice(io, {
        model: 'line-keypad',
        request([verb, word, value]) {
          if (verb !== 'K') return { error: `unknown request ${verb}: a keypad sends K <n> <command>` };
          const c = COMMANDS[word ?? ''];
          if (!c) return { error: `unknown command ${word ?? '(none)'}: one of ${Object.keys(COMMANDS).join(' ')}` };
          if (c.arg && !value) return { error: `${word} needs a ${c.arg}` };
          return { leaf: 'cmd', body: { cmd: c.cmd, ...(c.arg ? { [c.arg]: value } : {}) } };
        },
        render(m) {
          if (m.leaf !== 'screen') return [];
          const b = m.body;
          return [{ key: 'screen', fields: ['S', field(b.w), field(b.state), field(b.t), field(b.status), field(b.waiting), field(b.served)] }];
        },
      }),
  },
};
