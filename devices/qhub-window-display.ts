import type { ModelDefinition } from './model.js';

export const qhubWindowDisplay: ModelDefinition = {
  model: 'qhub-window-display',
  kind: 'display',
  description: 'small LED display above a window on MQTT: the number called there',
  transports: ['mqtt'],
  sends: [],
  accepts: ['display', 'error'],
};
