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
        render: (leaf, b) => (leaf === 'display' ? [{ key: 'display', fields: ['D', field(b.w), field(b.state), field(b.t), field(b.flash)] }] : []),
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
        render(leaf, b) {
          if (leaf !== 'display') return [];
          const flash = b.flash as { t: string; w: number; seq: number } | null;
          const rows = (b.rows as { t: string; w: number }[]).map((r) => `${field(r.t)}:${r.w}`);
          return [{ key: 'display', fields: ['B', field(b.zone), flash ? `${field(flash.t)}:${flash.w}:${flash.seq}` : '-', ...rows] }];
        },
      }),
  },
};
