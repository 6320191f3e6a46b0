/**
 * docs/API.md is what the command table says: regenerated here from the
 * table and a real hub (fixed clock), and compared with the file as committed.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ACTIONS } from '../daemon/api/actions.js';

describe('docs/API.md', () => {
  it('is the command table as it is now, with a captured answer for every action (npm run docs:api rewrites it)', async () => {
    // The compiled generator: it finds the example center beside dist/, as the CLI does.
    const { renderApiDoc } = (await import(new URL('../dist/daemon/api-doc.js', import.meta.url).href)) as typeof import('../daemon/api-doc.js');
    const fresh = await renderApiDoc();
    const committed = readFileSync(new URL('../docs/API.md', import.meta.url), 'utf8');
    for (const a of ACTIONS) expect(fresh).toContain(`### ${a.name}\n`);
    expect(fresh.match(/^Answer \(HTTP \d+\):$/gm)?.length).toBe(ACTIONS.length);
    expect(committed, 'docs/API.md is out of date: run npm run docs:api').toBe(fresh);
  });
});
