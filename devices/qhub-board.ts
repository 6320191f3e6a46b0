import type { ModelDefinition } from './model.js';

/** The hall LED boards on MQTT, by their number of rows. */
export const qhubBoard4: ModelDefinition = {
  model: 'qhub-board-4row',
  kind: 'board',
  description: 'hall LED board on MQTT, 4 rows of number → window',
  transports: ['mqtt'],
  sends: [],
  accepts: ['display', 'error'],
  rows: 4,
};

export const qhubBoard8: ModelDefinition = { ...qhubBoard4, model: 'qhub-board-8row', description: 'hall LED board on MQTT, 8 rows of number → window', rows: 8 };
