import type { Scenario } from '../scenario.js';
import { suiteLoad } from './suite-load.js';

/** Every scenario `npm run chaos` runs, in order. Add yours here. */
export const SCENARIOS: Scenario[] = [suiteLoad];
