/**
 * systemd/install.sh into a temporary root, twice: the layout, secrets of its
 * own (never the published demo ones), the `qhub` command working from the
 * installed tree, and a second run that changes nothing.
 *
 * What this machine does not allow is printed by the script, not done:
 * useradd/usermod and systemctl (--root), and `npm ci --omit=dev` (--no-npm:
 * it would rebuild better-sqlite3 for two minutes; the test links the
 * checkout's node_modules into the installed tree instead). The build is the
 * suite's own (`npm test` builds first; --no-build).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { exampleSecrets } from './helpers/hub.js';

const ROOT_DIR = new URL('../', import.meta.url).pathname;
const SCRIPT = join(ROOT_DIR, 'systemd/install.sh');

/** Every file under `dir` (not through the node_modules link): path → mode and content hash. */
function manifest(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.set(relative(dir, p), 'link');
      else if (st.isDirectory()) walk(p);
      else out.set(relative(dir, p), `${(st.mode & 0o7777).toString(8)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(dir);
  return out;
}

function install(root: string) {
  const r = spawnSync('bash', [SCRIPT, '--root', root, '--no-build', '--no-npm'], { encoding: 'utf8', env: { ...process.env, DESTDIR: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('systemd/install.sh into a temporary root', () => {
  it('lays out /opt/qhub, /etc/qhub with fresh secrets, /var/lib/qhub with the voice pack, the qhub command, the unit and udev rules; a second run changes nothing', () => {
    const root = mkdtempSync(join(tmpdir(), 'qhub-root-'));
    mkdirSync(join(root, 'opt/qhub'), { recursive: true });
    symlinkSync(join(ROOT_DIR, 'node_modules'), join(root, 'opt/qhub/node_modules'));

    const first = install(root);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    // What it would do on a real machine, said instead of done.
    expect(first.out).toContain('would run: useradd --system --user-group --home-dir /var/lib/qhub');
    expect(first.out).toContain('would run: usermod -aG dialout qhub');
    expect(first.out).toContain('would run: usermod -aG audio qhub');
    expect(first.out).toContain('would run: systemctl enable qhub');
    expect(first.out).toMatch(/center\.yaml: OK — /);

    for (const f of ['opt/qhub/dist/daemon/cli.js', 'opt/qhub/dist/bundle/qhub.js', 'opt/qhub/package.json', 'opt/qhub/config/center.example.yaml', 'opt/qhub/assets/fonts/NotoSansArabic-Regular.ttf', 'etc/systemd/system/qhub.service', 'etc/udev/rules.d/99-qhub-serial.rules', 'usr/local/bin/qhub'])
      expect(statSync(join(root, f)).isFile(), f).toBe(true);
    expect(readFileSync(join(root, 'etc/systemd/system/qhub.service'), 'utf8')).toBe(readFileSync(join(ROOT_DIR, 'systemd/qhub.service'), 'utf8'));
    expect(statSync(join(root, 'usr/local/bin/qhub')).mode & 0o111).toBe(0o111);
    expect(statSync(join(root, 'etc/qhub')).mode & 0o777).toBe(0o750);
    expect(statSync(join(root, 'var/lib/qhub')).mode & 0o777).toBe(0o750);
    // The voice pack, where the unit's QHUB_DATA puts it (espeak-ng is installed by .ci/run).
    const wavs = (readdirSync(join(root, 'var/lib/qhub/voice'), { recursive: true }) as string[]).filter((f) => f.endsWith('.wav'));
    expect(wavs.length).toBeGreaterThan(100);

    // Secrets of its own for every device of the example, none of them the published ones, readable by root and qhub only.
    const cfg = readFileSync(join(root, 'etc/qhub/center.yaml'), 'utf8');
    expect(cfg.match(/^secrets: .*$/gm)).toEqual(['secrets: center.secrets.yaml']);
    const demo = exampleSecrets();
    const mine = parseDocument(readFileSync(join(root, 'etc/qhub/center.secrets.yaml'), 'utf8')).toJS() as Record<string, string>;
    expect(Object.keys(mine).sort()).toEqual(Object.keys(demo).sort());
    for (const [id, s] of Object.entries(mine)) {
      expect(s, id).toMatch(/^[0-9a-f]{32}$/);
      expect(s, id).not.toBe(demo[id]);
    }
    expect(new Set(Object.values(mine)).size).toBe(Object.keys(mine).length);
    expect(statSync(join(root, 'etc/qhub/center.secrets.yaml')).mode & 0o777).toBe(0o640);
    expect(statSync(join(root, 'etc/qhub/secrets.env')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(root, 'etc/qhub/secrets.env'), 'utf8')).toMatch(/^QHUB_SUPERVISOR_SECRET=[0-9a-f]{32}$/m);

    // The installed command, from the installed tree, on the installed config.
    const check = spawnSync(join(root, 'usr/local/bin/qhub'), ['check-config', join(root, 'etc/qhub/center.yaml')], { encoding: 'utf8', env: { ...process.env, QHUB_CONFIG: '', QHUB_DATA: '' } });
    expect(check.status).toBe(0);
    expect(check.stdout).toContain(`${join(root, 'etc/qhub/center.yaml')}: OK — mansoura-tc`);
    // With no argument it checks the installation's config (QHUB_CONFIG from the wrapper).
    const env = { ...process.env };
    delete env.QHUB_CONFIG;
    const plain = spawnSync(join(root, 'usr/local/bin/qhub'), ['check-config'], { encoding: 'utf8', env });
    expect(plain.stdout).toContain(`${join(root, 'etc/qhub/center.yaml')}: OK`);

    const before = manifest(root);
    const second = install(root);
    expect(second.code).toBe(0);
    expect(second.out).toContain('center.yaml kept');
    expect(second.out).not.toContain('new random secrets');
    const after = manifest(root);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    const changed = [...after].filter(([k, v]) => before.get(k) !== v).map(([k]) => k);
    expect(changed).toEqual([]);
  });
});
