import type { Scenario } from '../scenario.js';
import { abuseHttp } from './abuse-http.js';
import { abuseMqtt } from './abuse-mqtt.js';
import { reloadLoad } from './reload-load.js';
import { serialStorm } from './serial-storm.js';
import { suiteLoad } from './suite-load.js';

/** Every scenario `npm run chaos` runs, in order. Add yours here. */
export const SCENARIOS: Scenario[] = [abuseMqtt, abuseHttp, serialStorm, reloadLoad, suiteLoad];
