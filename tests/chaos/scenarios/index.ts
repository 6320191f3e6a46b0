import type { Scenario } from '../scenario.js';

/** Every scenario `npm run chaos` runs, in order. Add yours here. */
export const SCENARIOS: Scenario[] = [];
