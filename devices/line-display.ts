/**
 * Displays on qhub's ASCII line protocol (docs/LINE-PROTOCOL.md): a window
 * display gets one `D` line, a hall board one `B` line with its rows. Both
 * only listen; their HELLO and PONG keep them online.
 */
import { field, openLineDevice } from './line-session.js';
import type { ModelDefinition } from './model.js';

export const lineWindowDisplay: ModelDefinition = {
  model: 'line-display',
  kind: 'display',
  description: 'window display on a serial line speaking the ASCII line protocol (docs/LINE-PROTOCOL.md)',
  transports: ['serial'],
  sends: [],
  accepts: ['display'],
  wired: {
    open: (io) =>
      openLineDevice(io, {
        model: 'line-display',
        render: (m) => (m.leaf === 'display' && 'w' in m.body ? [{ key: 'display', fields: ['D', field(m.body.w), field(m.body.state), field(m.body.t), field(m.body.flash)] }] : []),
      }),
  },
};

export const lineBoard: ModelDefinition = {
  model: 'line-board-4row',
  kind: 'board',
  description: 'hall board on a serial line speaking the ASCII line protocol (docs/LINE-PROTOCOL.md), 4 rows of number → window',
  transports: ['serial'],
  sends: [],
  accepts: ['display'],
  rows: 4,
  wired: {
    open: (io) =>
      openLineDevice(io, {
        model: 'line-board-4row',
        render(m) {
          if (m.leaf !== 'display' || !('zone' in m.body)) return [];
          const b = m.body;
          const flash = b.flash;
          const rows = b.rows.map((r) => `${field(r.t)}:${r.w}`);
          return [{ key: 'display', fields: ['B', field(b.zone), flash ? `${field(flash.t)}:${flash.w}:${flash.seq}` : '-', ...rows] }];
        },
      }),
  },
};
