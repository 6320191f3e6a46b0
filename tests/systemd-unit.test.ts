/**
 * The service unit as systemd's own tools see it: `systemd-analyze verify`
 * (syntax, known directives, the programs it runs exist) and
 * `systemd-analyze security --offline=yes` (the exposure score).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const UNIT = new URL('../systemd/qhub.service', import.meta.url).pathname;

function analyze(...args: string[]) {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A copy of the unit with some lines changed, in a folder of its own. */
function variant(edit: (text: string) => string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'qhub-unit-')), 'qhub.service');
  writeFileSync(f, edit(readFileSync(UNIT, 'utf8')));
  return f;
}

describe('systemd/qhub.service', () => {
  it('passes systemd-analyze verify (and verify does catch a missing program)', () => {
    const ok = analyze('verify', UNIT);
    expect(ok.out).toBe('');
    expect(ok.code).toBe(0);
    const bad = analyze('verify', variant((t) => t.replace('ExecStart=/usr/bin/node ', 'ExecStart=/usr/bin/no-such-node ')));
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatch(/no-such-node is not executable/);
  });

  it("with install.sh's gpio drop-in (written where the group gpio exists) still passes verify", () => {
    // The drop-in exactly as install.sh writes it (its printf line).
    const script = readFileSync(new URL('../systemd/install.sh', import.meta.url), 'utf8');
    const m = /printf '([^']*)' > "\$UNITDIR\/qhub\.service\.d\/gpio\.conf"/.exec(script);
    expect(m).not.toBeNull();
    const text = m![1]!.replace(/\\n/g, '\n');
    expect(text).toContain('SupplementaryGroups=gpio');
    const verifyWith = (dropIn: string) => {
      const dir = mkdtempSync(join(tmpdir(), 'qhub-unitpath-'));
      mkdirSync(join(dir, 'qhub.service.d'));
      copyFileSync(UNIT, join(dir, 'qhub.service'));
      writeFileSync(join(dir, 'qhub.service.d', 'gpio.conf'), dropIn);
      const r = spawnSync('systemd-analyze', ['verify', 'qhub.service'], { encoding: 'utf8', env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` } });
      return { code: r.status, out: `${r.stdout}${r.stderr}` };
    };
    expect(verifyWith(text)).toEqual({ code: 0, out: '' });
    // The drop-in is read: a misspelt key in it is reported.
    expect(verifyWith(text.replace('SupplementaryGroups', 'SupplementaryGrups')).out).toMatch(/gpio\.conf:\d+: Unknown key 'SupplementaryGrups'/);
  });

  it('scores below 4 ("OK") in systemd-analyze security; the unhardened unit it replaced scored 8.5', () => {
    const score = (file: string) => {
      const r = analyze('security', '--offline=yes', file);
      const m = /Overall exposure level for \S+: (\d+\.\d+) (\S+)/.exec(r.out);
      if (!m) throw new Error(`no score in: ${r.out.slice(-500)}`);
      return { value: Number(m[1]), word: m[2] };
    };
    const now = score(UNIT);
    expect(now.value).toBeLessThan(4);
    expect(now.word).toBe('OK');
    // The same unit without its hardening block scores as the old one did: the figure is the hardening's.
    const bare = score(variant((t) => t.slice(0, t.indexOf('# Hardening.')) + '\n[Install]\nWantedBy=multi-user.target\n'));
    expect(bare.value).toBeGreaterThan(8);
  });

  it('is what the daemon does: Type=notify with a watchdog, reload by SIGHUP, restarted always, serial/audio/GPIO reachable', () => {
    const t = readFileSync(UNIT, 'utf8');
    const keys = (k: string) => [...t.matchAll(new RegExp(`^${k}=(.*)$`, 'gm'))].map((m) => m[1]);
    expect(keys('Type')).toEqual(['notify']);
    expect(keys('NotifyAccess')).toEqual(['main']);
    expect(keys('WatchdogSec')).toEqual(['30']);
    expect(keys('Restart')).toEqual(['always']);
    expect(keys('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(keys('StateDirectory')).toEqual(['qhub']);
    expect(keys('ConfigurationDirectory')).toEqual(['qhub']);
    // PrivateDevices=yes would hide the serial lines and /dev/snd; a device allow-list keeps them.
    expect(keys('PrivateDevices')).toEqual([]);
    expect(keys('DevicePolicy')).toEqual(['closed']);
    expect(keys('DeviceAllow').sort()).toEqual(['char-alsa rw', 'char-gpiochip rw', 'char-ttyACM rw', 'char-ttyAMA rw', 'char-ttyS rw', 'char-ttyUSB rw']);
    // A group that does not exist fails the start (216/GROUP): gpio is added by install.sh's drop-in only where it exists.
    expect(keys('SupplementaryGroups')).toEqual(['dialout audio']);
    // PrivateUsers would map dialout/audio to nobody; the JIT needs writable+executable memory.
    expect(keys('PrivateUsers')).toEqual([]);
    expect(keys('MemoryDenyWriteExecute')).toEqual([]);
    // The bundle npm run build makes (daemon/bundle.mjs) runs the hub, and checks the config before it with the same code.
    expect(keys('ExecStart')[0]).toMatch(/^\/usr\/bin\/node (--[a-z0-9-]+(=\S+)? )*\/opt\/qhub\/dist\/bundle\/qhub\.js start --json$/);
    expect(keys('ExecStartPre')).toEqual(['/usr/bin/node /opt/qhub/dist/bundle/qhub.js check-config ${QHUB_CONFIG}']);
  });
});
