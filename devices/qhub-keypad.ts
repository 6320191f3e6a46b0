import type { ModelDefinition } from './model.js';

export const qhubKeypad: ModelDefinition = {
  model: 'qhub-keypad',
  kind: 'keypad',
  description: 'window keypad on MQTT with a 2-line screen',
  transports: ['mqtt'],
  sends: ['cmd'],
  accepts: ['screen', 'error'],
};
