import type { Scenario } from '../scenario.js';
import { abuseHttp } from './abuse-http.js';
import { abuseMqtt } from './abuse-mqtt.js';
import { clock } from './clock.js';
import { disk } from './disk.js';
import { kill } from './kill.js';
import { power } from './power.js';
import { reloadLoad } from './reload-load.js';
import { serialStorm } from './serial-storm.js';
import { suiteLoad } from './suite-load.js';
import { weekend } from './weekend.js';

/** Every scenario `npm run chaos` runs, in order. Add yours here. */
export const SCENARIOS: Scenario[] = [kill, power, disk, clock, weekend, abuseMqtt, abuseHttp, serialStorm, reloadLoad, suiteLoad];
