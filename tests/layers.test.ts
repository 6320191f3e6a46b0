/**
 * The layers (.dependency-cruiser.cjs: the config schema at the bottom, then
 * contract/, drivers/, devices/, the pure engine, the store and spine, one
 * folder per module that never imports another) checked by
 * dependency-cruiser on the tree, and shown to catch a planted forbidden
 * import in a temporary copy.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../', import.meta.url).pathname;
const CRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const PARTS = ['contract', 'config', 'daemon', 'devices', 'drivers'];

function cruise(cwd: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [CRUISE, ...PARTS, '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function copyTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qhub-layers-'));
  for (const p of [...PARTS, 'tsconfig.json', '.dependency-cruiser.cjs', 'package.json']) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  return dir;
}

describe('the layers', () => {
  it('hold on the tree: no cycle, no module importing another, nothing above importing below', () => {
    const r = cruise(ROOT);
    expect(r.out).toMatch(/no dependency violations found/);
    expect(r.code).toBe(0);
  });

  it('fail on each kind of forbidden import planted in a copy of the tree', () => {
    const planted: [string, string, string][] = [
      // file, the line planted at its top, the rule that must name it
      ['daemon/engine/engine.ts', "import '../mqtt/broker.js';", 'engine-is-pure'],
      ['daemon/voice/announcer.ts', "import '../devices/hub.js';", 'modules-apart'],
      ['devices/qhub-keypad.ts', "import '../daemon/core/core.js';", 'devices-are-definitions'],
      ['config/schema.ts', "import '../devices/index.js';", 'schema-at-the-bottom'],
      ['daemon/engine/clock.ts', "import 'node:fs';", 'engine-no-io'],
      ['drivers/escpos.ts', "import '../contract/queue.js';", 'drivers-move-bytes'],
    ];
    const dir = copyTree();
    for (const [file, line] of planted) {
      const path = join(dir, file);
      writeFileSync(path, `${line}\n${readFileSync(path, 'utf8')}`);
    }
    const r = cruise(dir);
    expect(r.code).not.toBe(0);
    for (const [file, , rule] of planted) expect(r.out, `${rule} on ${file}`).toContain(`error ${rule}: ${file}`);
    // The schema importing the models closes a cycle too.
    expect(r.out).toContain('error no-circular');
  });
});
