import type { ModelDefinition } from './model.js';

export const qhubDispenser5: ModelDefinition = {
  model: 'qhub-dispenser-5',
  kind: 'dispenser',
  description: 'reception dispenser on MQTT: 5 service buttons and an 80 mm thermal printer',
  transports: ['mqtt'],
  sends: ['press'],
  accepts: ['ticket', 'error'],
  buttons: 5,
};
