import type { ModelDefinition } from './model.js';

export const qhubSpeaker: ModelDefinition = {
  model: 'qhub-speaker',
  kind: 'speaker',
  description: 'networked voice board on MQTT with a chime and clip playback, Arabic and English',
  transports: ['mqtt'],
  sends: ['played'],
  accepts: ['announce', 'error'],
  languages: ['ar', 'en'],
};
