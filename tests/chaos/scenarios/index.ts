import type { Scenario } from '../scenario.js';
import { kill } from './kill.js';
import { power } from './power.js';
import { disk } from './disk.js';
import { clock } from './clock.js';
import { weekend } from './weekend.js';

/** Every scenario `npm run chaos` runs, in order. Add yours here. */
export const SCENARIOS: Scenario[] = [
  kill,
  power,
  disk,
  clock,
  weekend,
  // abuse-mqtt, abuse-http, serial-storm, reload-load (branch abuse), suite-load (branch busy): registered by their helpers.
];
