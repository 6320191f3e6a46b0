import type { ModelDefinition } from './model.js';

/**
 * The hall display page (GET /hall/<zone>) on a TV's browser: a board and a
 * speaker of its zone, reached over Server-Sent Events by the web module
 * (daemon/web/). A zone's page shows the board's view and plays the
 * speaker's announcements, and says `played` when one has ended.
 */
export const webBoard: ModelDefinition = {
  model: 'web-board',
  kind: 'board',
  description: 'the hall display page of the hub (/hall/<zone>) on a TV browser: recent calls, 8 rows',
  transports: ['web'],
  sends: [],
  accepts: ['display', 'error'],
  rows: 8,
};

export const webSpeaker: ModelDefinition = {
  model: 'web-speaker',
  kind: 'speaker',
  description: 'the hall display page of the hub (/hall/<zone>) playing each rendered call, paced by its played',
  transports: ['web'],
  sends: ['played'],
  accepts: ['announce', 'error'],
  languages: ['ar', 'en'],
};
