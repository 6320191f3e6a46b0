/**
 * `qhub report --day 2026-11-24 | --week 2026-W48 [--csv|--html] [--lang ar|en]
 *   [--out FILE] [--config FILE] [--data DIR]`
 * Reads the store file read-only (beside a running hub: WAL readers never
 * block the writer) and prints or writes the report.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkCenterFile, formatProblem } from '../../config/load.js';
import { businessDay } from '../engine/clock.js';
import { Store } from '../store/store.js';
import { toCsv, toHtml, type Lang } from './render.js';
import { isoWeekDays, reportFor } from './rollups.js';

export const REPORT_USAGE = `usage: qhub report --day YYYY-MM-DD | --week YYYY-Www [--csv|--html] [--lang ar|en] [--out FILE] [--config FILE] [--data DIR]
  --day      a business day, e.g. 2026-11-24 (today: figures so far)
  --week     an ISO week, Monday to Sunday, e.g. 2026-W48
  --csv      CSV in sections, UTF-8 with BOM (the default)
  --html     a printable page with charts
  --lang     ar (default: the center's first language) or en
  --out      write to FILE instead of standard output`;

export async function reportCommand(args: string[], configPath: (given?: string) => string): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(REPORT_USAGE);
    return 0;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        day: { type: 'string' },
        week: { type: 'string' },
        csv: { type: 'boolean' },
        html: { type: 'boolean' },
        lang: { type: 'string' },
        out: { type: 'string' },
        config: { type: 'string' },
        data: { type: 'string' },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`qhub report: ${(e as Error).message}\n${REPORT_USAGE}`);
    return 1;
  }
  if (!!values.day === !!values.week) {
    console.error(`qhub report: give exactly one of --day or --week\n${REPORT_USAGE}`);
    return 1;
  }
  if (values.day && !/^\d{4}-\d{2}-\d{2}$/.test(values.day)) {
    console.error(`qhub report: --day ${values.day}: write the day as YYYY-MM-DD, e.g. 2026-11-24`);
    return 1;
  }
  if (values.week) {
    try {
      isoWeekDays(values.week);
    } catch (e) {
      console.error(`qhub report: --week ${(e as Error).message}`);
      return 1;
    }
  }
  if (values.csv && values.html) {
    console.error('qhub report: --csv or --html, not both');
    return 1;
  }
  const file = configPath(values.config);
  const { loaded, problems } = checkCenterFile(file);
  if (!loaded) {
    for (const p of problems) console.error(formatProblem(p));
    return 1;
  }
  const config = loaded.config;
  const lang = (values.lang ?? config.center.languages[0] ?? 'ar') as Lang;
  if (lang !== 'ar' && lang !== 'en') {
    console.error(`qhub report: --lang ${String(values.lang)}: ar or en`);
    return 1;
  }
  const dataDir = resolve(values.data ?? process.env.QHUB_DATA ?? config.hub.dataDir ?? 'data');
  const store = new Store(join(dataDir, 'qhub.db'), { readonly: true });
  try {
    store.open();
  } catch (e) {
    console.error(`qhub report: ${(e as Error).message}`);
    return 1;
  }
  try {
    const now = Date.now();
    const { report, sources } = reportFor(store, config, values.day ? { day: values.day } : { week: values.week! }, now);
    if (!report.days.length) {
      const today = businessDay(now, config.center.timezone, config.center.day.rollover);
      console.error(`qhub report: no events and no rollup for ${values.day ?? values.week} in ${store.file} (today is ${today}): check --data and the dates`);
      return 1;
    }
    const partial = Object.entries(sources).filter(([, s]) => s === 'partial-events').map(([d]) => d);
    if (partial.length) console.error(`qhub report: warning: ${partial.join(', ')}: part of the day's events were pruned and no rollup was kept; figures cover what remains`);
    const text = values.html ? toHtml(report, lang, { generatedAt: now }) : toCsv(report, lang, { generatedAt: now });
    if (values.out) {
      // Written beside and renamed: a full disk leaves no half report under the real name.
      const tmp = `${values.out}.tmp`;
      try {
        writeFileSync(tmp, text);
        renameSync(tmp, values.out);
      } catch (e) {
        rmSync(tmp, { force: true });
        const code = (e as NodeJS.ErrnoException).code;
        console.error(
          `qhub report: cannot write ${resolve(values.out)}: ${code === 'ENOSPC' ? 'the disk is full (no space left): free space there or give --out on another disk' : (e as Error).message}`,
        );
        return 1;
      }
      console.error(`${resolve(values.out)}: ${values.html ? 'HTML' : 'CSV'} report, ${report.days.length} day(s) (${Object.entries(sources).map(([d, s]) => `${d} from ${s}`).join(', ')})`);
    } else process.stdout.write(text);
    return 0;
  } finally {
    store.close();
  }
}
