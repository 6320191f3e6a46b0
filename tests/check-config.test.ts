/**
 * `qhub check-config FILE`, run as the real compiled CLI (dist/daemon/cli.js) on
 * the example center and on broken copies of it. Each broken case checks the
 * exit code and the exact `FILE:LINE: key.path:` prefix, with LINE found by
 * looking for the offending line in the broken text.
 *
 * `npm test` builds first; run `npm run build` before `vitest run` by hand.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadCenter } from '../config/load.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist/daemon/cli.js');
const EXAMPLE = join(ROOT, 'config/center.example.yaml');
const EXAMPLE_SECRETS = join(ROOT, 'config/center.example.secrets.yaml');
const SECRETS_NAME = 'center.example.secrets.yaml';
const example = readFileSync(EXAMPLE, 'utf8');
const parsedExample = parse(example) as {
  services: { id: string }[];
  windows: { number: number }[];
  devices: { id: string }[];
};

const serviceIndex = (id: string) => indexOrThrow(parsedExample.services.findIndex((s) => s.id === id), `service ${id}`);
const windowIndex = (n: number) => indexOrThrow(parsedExample.windows.findIndex((w) => w.number === n), `window ${n}`);
const deviceIndex = (id: string) => indexOrThrow(parsedExample.devices.findIndex((d) => d.id === id), `device ${id}`);
function indexOrThrow(i: number, what: string): number {
  if (i < 0) throw new Error(`the example center has no ${what}; update this test`);
  return i;
}

let tmp: string;
let caseNo = 0;

beforeAll(() => {
  if (!existsSync(CLI))
    throw new Error(`${CLI} does not exist: build first with "npm run build" (npm test does it), then run vitest`);
  for (const [src, out] of [
    ['config/load.ts', 'dist/config/load.js'],
    ['config/schema.ts', 'dist/config/schema.js'],
    ['daemon/cli.ts', 'dist/daemon/cli.js'],
  ] as const) {
    const o = join(ROOT, out);
    if (!existsSync(o) || statSync(o).mtimeMs < statSync(join(ROOT, src)).mtimeMs)
      throw new Error(`${out} is older than ${src}: rebuild with "npm run build" before running these tests`);
  }
  tmp = mkdtempSync(join(tmpdir(), 'qhub-check-config-'));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Runs the compiled CLI; returns the exit code and stdout+stderr. */
function checkConfig(file: string, env: Record<string, string | undefined> = {}): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, 'check-config', file], {
    encoding: 'utf8',
    env: { ...process.env, QHUB_SUPERVISOR_SECRET: 'supervisor-secret-for-tests', ...env },
    timeout: 30_000,
  });
  if (r.error) throw r.error;
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Writes `text` as center.yaml in a fresh directory, with the example secrets file beside it unless told not to. */
function writeCenter(text: string, opts: { secrets?: string | false } = {}): string {
  const dir = join(tmp, `case-${++caseNo}`);
  mkdirSync(dir);
  if (opts.secrets === undefined) copyFileSync(EXAMPLE_SECRETS, join(dir, SECRETS_NAME));
  else if (opts.secrets !== false) writeFileSync(join(dir, SECRETS_NAME), opts.secrets);
  const file = join(dir, 'center.yaml');
  writeFileSync(file, text);
  return file;
}

/** `text` with the one occurrence of `from` replaced; fails if `from` is not there exactly once. */
function replaceOnce(text: string, from: string, to: string): string {
  const n = text.split(from).length - 1;
  if (n !== 1) throw new Error(`expected exactly one ${JSON.stringify(from)} in the text, found ${n}; update this test`);
  return text.replace(from, () => to);
}

/** 1-based numbers of the lines that contain `needle`. */
function linesWith(text: string, needle: string): number[] {
  return text
    .split('\n')
    .map((l, i) => (l.includes(needle) ? i + 1 : 0))
    .filter((n) => n > 0);
}

/** 1-based number of the one line that contains `needle`. */
function lineWith(text: string, needle: string): number {
  const ls = linesWith(text, needle);
  if (ls.length !== 1) throw new Error(`expected one line with ${JSON.stringify(needle)}, found ${ls.length}`);
  return ls[0]!;
}

/** Asserts a failed check whose output has the `FILE:LINE: path:` prefix; returns that output line. */
function expectProblem(run: { code: number | null; out: string }, prefix: string): string {
  expect(run.code, run.out).toBe(1);
  const line = run.out.split('\n').find((l) => l.startsWith(prefix));
  expect(line, `no line starts with ${JSON.stringify(prefix)} in:\n${run.out}`).toBeDefined();
  return line!;
}

describe('qhub check-config (compiled CLI)', () => {
  it('accepts the example center and prints a one-line summary', () => {
    const run = checkConfig(EXAMPLE);
    expect(run.code, run.out).toBe(0);
    const lines = run.out.trim().split('\n');
    expect(lines, run.out).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${EXAMPLE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: OK`));
    expect(lines[0]).toContain('10 windows');
    expect(lines[0]).toContain('5 services');
  });

  it('passes with a warning when a secret from the environment is not set', () => {
    const run = checkConfig(EXAMPLE, { QHUB_SUPERVISOR_SECRET: undefined });
    expect(run.code, run.out).toBe(0);
    const line = lineWith(example, 'secret: {env: QHUB_SUPERVISOR_SECRET}');
    expect(run.out).toContain(`${EXAMPLE}:${line}: warning: hub.users[0].secret: environment variable QHUB_SUPERVISOR_SECRET is not set`);
    expect(run.out).toContain('10 windows');
  });

  it('reports an unknown key (a typo) and suggests the right one', () => {
    const text = replaceOnce(example, '    prefix: A\n', '    prefx: A\n');
    const file = writeCenter(text);
    const run = checkConfig(file);
    const i = serviceIndex('intake');
    const line = expectProblem(run, `${file}:${lineWith(text, 'prefx: A')}: services[${i}].prefx: `);
    expect(line).toContain('unknown key "prefx"');
    expect(line).toContain('did you mean "prefix"');
    // The misspelt key is not reported a second time as a missing "prefix".
    expect(run.out).not.toContain(`services[${i}].prefix:`);
  });

  it('reports a wrong type with what was expected and what was found', () => {
    const text = replaceOnce(example, '  - number: 3\n', '  - number: three\n');
    const file = writeCenter(text);
    const run = checkConfig(file);
    const line = expectProblem(run, `${file}:${lineWith(text, 'number: three')}: windows[${windowIndex(3)}].number: `);
    expect(line).toContain('found the text "three"');
    expect(line).toContain('must be the window number');
    // No follow-on complaints about devices bound to window 3.
    expect(run.out).not.toContain('does not exist');
  });

  it('reports a window serving a service that does not exist', () => {
    const text = replaceOnce(example, 'services: [intake, complaints]', 'services: [intake, complains]');
    const file = writeCenter(text);
    const run = checkConfig(file);
    const line = expectProblem(run, `${file}:${lineWith(text, '[intake, complains]')}: windows[${windowIndex(4)}].services[1]: `);
    expect(line).toContain('service "complains" does not exist');
    expect(line).toContain('complaints');
  });

  it('reports two devices with one id', () => {
    const text = replaceOnce(example, '  - id: kp-2\n', '  - id: kp-1\n');
    const file = writeCenter(text);
    const run = checkConfig(file);
    const second = linesWith(text, '  - id: kp-1')[1]!;
    const line = expectProblem(run, `${file}:${second}: devices[${deviceIndex('kp-2')}].id: `);
    expect(line).toContain('"kp-1" is used by two devices');
  });

  it('reports a ticket prefix used twice', () => {
    const text = replaceOnce(example, '    prefix: B\n', '    prefix: A\n');
    const file = writeCenter(text);
    const run = checkConfig(file);
    const second = linesWith(text, '    prefix: A')[1]!;
    const line = expectProblem(run, `${file}:${second}: services[${serviceIndex('treasury')}].prefix: `);
    expect(line).toContain('prefix "A" is already used by service "intake"');
  });

  it('reports a time zone that does not exist', () => {
    const text = replaceOnce(example, 'timezone: Africa/Cairo', 'timezone: Africa/Mansoura');
    const file = writeCenter(text);
    const run = checkConfig(file);
    const line = expectProblem(run, `${file}:${lineWith(text, 'Africa/Mansoura')}: center.timezone: `);
    expect(line).toContain('"Africa/Mansoura" is not a known IANA time zone');
  });

  it('reports a backup schedule that is not a cron line, and a keep of 0', () => {
    const text = `${example}\nbackup:\n  schedule: "every friday"\n  keep: 0\n`;
    const file = writeCenter(text);
    const run = checkConfig(file);
    expect(expectProblem(run, `${file}:${lineWith(text, 'every friday')}: backup.schedule: `)).toContain('must be a cron line "minute hour day-of-month month day-of-week", e.g. "30 3 * * 5"');
    expectProblem(run, `${file}:${lineWith(text, 'keep: 0')}: backup.keep: `);
  });

  it('reports a rollover time of 25:00', () => {
    const text = replaceOnce(example, 'rollover: "03:00"', 'rollover: "25:00"');
    const file = writeCenter(text);
    const run = checkConfig(file);
    const line = expectProblem(run, `${file}:${lineWith(text, 'rollover: "25:00"')}: center.day.rollover: `);
    expect(line).toContain('"25:00"');
    expect(line).toContain('HH:MM');
  });

  it('reports a missing required key at the start of its section', () => {
    const text = replaceOnce(example, '    prefix: C\n', '');
    const file = writeCenter(text);
    const run = checkConfig(file);
    const line = expectProblem(run, `${file}:${lineWith(text, '  - id: delivery')}: services[${serviceIndex('delivery')}].prefix: `);
    expect(line).toContain('is missing');
  });

  it('reports a YAML syntax error (bad indentation) on its line', () => {
    const text = replaceOnce(example, '\n  timezone: Africa/Cairo', '\n   timezone: Africa/Cairo');
    const file = writeCenter(text);
    const run = checkConfig(file);
    const line = expectProblem(run, `${file}:${lineWith(text, 'timezone: Africa/Cairo')}: YAML syntax error: `);
    expect(line).toMatch(/indentation/);
  });

  it('reports a keypad bound to a window that does not exist', () => {
    const kp7 = '  - id: kp-7\n    kind: keypad\n    model: qhub-keypad\n    bind: {window: 7}\n';
    const text = replaceOnce(example, kp7, kp7.replace('{window: 7}', '{window: 17}'));
    const file = writeCenter(text);
    const run = checkConfig(file);
    const line = expectProblem(run, `${file}:${lineWith(text, '{window: 17}')}: devices[${deviceIndex('kp-7')}].bind.window: `);
    expect(line).toContain('window 17 does not exist');
  });

  it('reports a missing secrets file once, on the secrets line', () => {
    const file = writeCenter(example, { secrets: false });
    const run = checkConfig(file);
    const line = expectProblem(run, `${file}:${lineWith(example, `secrets: ${SECRETS_NAME}`)}: secrets: `);
    expect(line).toContain(`${join(dirname(file), SECRETS_NAME)} does not exist`);
    // Not also one complaint per device.
    expect(run.out).not.toContain('no secret for');
  });

  it('reports a device missing from the secrets file', () => {
    const secrets = replaceOnce(readFileSync(EXAMPLE_SECRETS, 'utf8'), 'kp-5: demo-kp-5-4980d3b7\n', '');
    const file = writeCenter(example, { secrets });
    const run = checkConfig(file);
    const line = expectProblem(run, `${file}:${lineWith(example, '  - id: kp-5')}: devices[${deviceIndex('kp-5')}].secret: `);
    expect(line).toContain('no secret for "kp-5"');
    expect(line).toContain('"kp-5: <secret');
  });

  it('reports a file that does not exist', () => {
    const file = join(tmp, 'no-such-dir', 'center.yaml');
    const run = checkConfig(file);
    const line = expectProblem(run, `${file}:0: `);
    expect(line).toContain('does not exist');
  });

  it('reports a config version it does not read', () => {
    const text = replaceOnce(example, '\nversion: 1\n', '\nversion: 2\n');
    const file = writeCenter(text);
    const run = checkConfig(file);
    const line = expectProblem(run, `${file}:${lineWith(text, 'version: 2')}: version: `);
    expect(line).toContain('found 2, but it must be 1');
  });

  it('reports every problem of a file in one run, in line order', () => {
    let text = example;
    text = replaceOnce(text, 'timezone: Africa/Cairo', 'timezone: Mars/Olympus');
    text = replaceOnce(text, 'rollover: "03:00"', 'rollover: "25:00"');
    text = replaceOnce(text, '    prefix: A\n', '    prefx: A\n');
    text = replaceOnce(text, 'services: [intake, complaints]', 'services: [intake, complains]');
    const file = writeCenter(text);
    const run = checkConfig(file);
    const expected = [
      `${file}:${lineWith(text, 'Mars/Olympus')}: center.timezone: `,
      `${file}:${lineWith(text, 'rollover: "25:00"')}: center.day.rollover: `,
      `${file}:${lineWith(text, 'prefx: A')}: services[${serviceIndex('intake')}].prefx: `,
      `${file}:${lineWith(text, '[intake, complains]')}: windows[${windowIndex(4)}].services[1]: `,
    ];
    for (const prefix of expected) expectProblem(run, prefix);
    const order = expected.map((p) => run.out.indexOf(p));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(run.out).toContain(`${file}: 4 problems`);
  });
});

describe('loadCenter secrets', () => {
  it('resolves {env: VAR}, {file: path}, the secrets file and inline secrets', () => {
    let text = example;
    text = replaceOnce(text, '  - id: kp-1\n', '  - id: kp-1\n    secret: {env: QHUB_TEST_KP1_SECRET}\n');
    text = replaceOnce(text, '  - id: kp-2\n', '  - id: kp-2\n    secret: {file: kp-2.secret}\n');
    text = replaceOnce(text, '  - id: kp-3\n', '  - id: kp-3\n    secret: inline-secret-kp3\n');
    const file = writeCenter(text);
    writeFileSync(join(dirname(file), 'kp-2.secret'), 'from-a-file-kp2\n');

    const loaded = loadCenter(file, { QHUB_TEST_KP1_SECRET: 'from-the-env-kp1', QHUB_SUPERVISOR_SECRET: 'supervisor-from-env' });
    expect(loaded.secrets.get('kp-1')).toBe('from-the-env-kp1');
    expect(loaded.secrets.get('kp-2')).toBe('from-a-file-kp2');
    expect(loaded.secrets.get('kp-3')).toBe('inline-secret-kp3');
    expect(loaded.secrets.get('kp-4')).toBe('demo-kp-4-c1a77c5a');
    expect(loaded.secrets.get('supervisor')).toBe('supervisor-from-env');
    expect(loaded.warnings).toEqual([]);
  });

  it('loads, with a warning and no secret, when an env variable or secret file is missing', () => {
    let text = example;
    text = replaceOnce(text, '  - id: kp-1\n', '  - id: kp-1\n    secret: {env: QHUB_TEST_UNSET_SECRET}\n');
    text = replaceOnce(text, '  - id: kp-2\n', '  - id: kp-2\n    secret: {file: no-such.secret}\n');
    const file = writeCenter(text);

    const loaded = loadCenter(file, { QHUB_SUPERVISOR_SECRET: 'supervisor-from-env' });
    expect(loaded.secrets.has('kp-1')).toBe(false);
    expect(loaded.secrets.has('kp-2')).toBe(false);
    expect(loaded.warnings.map((w) => `${w.line}: ${w.path}`)).toEqual([
      `${lineWith(text, 'QHUB_TEST_UNSET_SECRET')}: devices[${deviceIndex('kp-1')}].secret`,
      `${lineWith(text, 'no-such.secret')}: devices[${deviceIndex('kp-2')}].secret`,
    ]);
    expect(loaded.warnings.every((w) => w.severity === 'warning')).toBe(true);
  });
});

describe('qhub check-config: device models and the links that carry them', () => {
  it('refuses an unknown model, naming its line and the models a device of that kind can be', () => {
    const text = replaceOnce(example, '  - id: kp-2\n    kind: keypad\n    model: qhub-keypad\n', '  - id: kp-2\n    kind: keypad\n    model: acme-keypad-9000\n');
    const file = writeCenter(text);
    const run = checkConfig(file);
    const line = expectProblem(run, `${file}:${lineWith(text, 'model: acme-keypad-9000')}: devices[${deviceIndex('kp-2')}].model: `);
    expect(line).toContain('model "acme-keypad-9000" is not known');
    expect(line).toContain('a keypad can be generic, qhub-keypad');
  });

  it('refuses a model of another kind', () => {
    const text = replaceOnce(example, '  - id: kp-3\n    kind: keypad\n    model: qhub-keypad\n', '  - id: kp-3\n    kind: keypad\n    model: qhub-board-8row\n');
    const file = writeCenter(text);
    const run = checkConfig(file);
    const line = expectProblem(run, `${file}:${lineWith(text, 'model: qhub-board-8row')}: devices[${deviceIndex('kp-3')}].model: `);
    expect(line).toContain('is a board, not a keypad');
    expect(line).toContain('qhub-keypad');
  });

  it('refuses a device on a transport no link of this hub serves (a serial keypad), at the transport line', () => {
    const text = replaceOnce(
      example,
      '  - id: kp-4\n    kind: keypad\n    model: qhub-keypad\n',
      '  - id: kp-4\n    kind: keypad\n    model: qhub-keypad\n    transport: {type: serial, path: /dev/ttyUSB0}\n',
    );
    const file = writeCenter(text);
    const run = checkConfig(file);
    const line = expectProblem(run, `${file}:${lineWith(text, 'transport: {type: serial, path: /dev/ttyUSB0}')}: devices[${deviceIndex('kp-4')}].transport.type: `);
    expect(line).toContain('is reached over mqtt, not serial');
    // The daemon refuses the same file: nothing is silently sent to topics no wired device reads.
    const start = spawnSync(process.execPath, [CLI, 'start', '--config', file, '--data', join(dirname(file), 'data'), '--json'], {
      encoding: 'utf8',
      env: { ...process.env, QHUB_SUPERVISOR_SECRET: 'supervisor-secret-for-tests' },
      timeout: 30_000,
    });
    expect(start.status).toBe(1);
    expect(start.stdout).toContain('is reached over mqtt, not serial');
  });

  it('refuses a dispenser bound to more services than its model has buttons', () => {
    const text = replaceOnce(
      example,
      '  - id: disp-2\n    kind: dispenser\n    model: qhub-dispenser-5\n    bind: {services: [intake, treasury, delivery, inquiry, complaints]}\n',
      '  - id: disp-2\n    kind: dispenser\n    model: qhub-dispenser-5\n    bind: {services: [intake, treasury, delivery, inquiry, complaints, intake]}\n',
    );
    const file = writeCenter(text);
    const run = checkConfig(file);
    const line = expectProblem(run, `${file}:${lineWith(text, 'complaints, intake]')}: devices[${deviceIndex('disp-2')}].bind.services: `);
    expect(line).toContain('has 5 buttons but 6 services are bound');
  });

  describe('wired devices', () => {
    const speakerEnd = '  - id: speaker-1\n    kind: speaker\n    model: qhub-speaker\n    bind: {zone: hall}\n';
    const withDevices = (yaml: string) => replaceOnce(example, speakerEnd, speakerEnd + yaml);
    const n = parsedExample.devices.length;

    it('accepts two LED-485 displays on one RS-485 bus at their own addresses, and wired devices need no secret', () => {
      const text = withDevices(
        '  - id: led-1\n    kind: display\n    model: led485-display\n    transport: {type: serial, path: /dev/ttyUSB0, address: 1}\n    bind: {window: 1}\n' +
          '  - id: led-2\n    kind: display\n    model: led485-display\n    transport: {type: serial, path: /dev/ttyUSB0, address: 2}\n    bind: {window: 2}\n',
      );
      const run = checkConfig(writeCenter(text));
      expect(run.out).not.toContain('error');
      expect(run.code).toBe(0);
    });

    it('refuses two displays at one address of a bus, on the second one\'s address', () => {
      const text = withDevices(
        '  - id: led-1\n    kind: display\n    model: led485-display\n    transport: {type: serial, path: /dev/ttyUSB0, address: 3}\n    bind: {window: 1}\n' +
          '  - id: led-2\n    kind: display\n    model: led485-display\n    transport: {type: serial, path: /dev/ttyUSB0, address: 3}\n    bind: {window: 2}\n',
      );
      const file = writeCenter(text);
      const line = expectProblem(checkConfig(file), `${file}:${linesWith(text, 'address: 3')[1]}: devices[${n + 1}].transport.address: `);
      expect(line).toContain('address 3 on /dev/ttyUSB0 is already device "led-1"');
    });

    it('refuses a serial line shared by a keypad and a display', () => {
      const text = withDevices(
        '  - id: kpl\n    kind: keypad\n    model: line-keypad\n    transport: {type: serial, path: /dev/ttyUSB1}\n    bind: {window: 1}\n' +
          '  - id: led-1\n    kind: display\n    model: led485-display\n    transport: {type: serial, path: /dev/ttyUSB1}\n    bind: {window: 1}\n',
      );
      const file = writeCenter(text);
      const line = expectProblem(checkConfig(file), `${file}:${linesWith(text, 'path: /dev/ttyUSB1')[1]}: devices[${n + 1}].transport.path: `);
      expect(line).toContain('already the line of device "kpl"');
    });

    it('refuses a wired dispenser without its printer, and with fewer button pins than services', () => {
      const text = withDevices(
        '  - id: dw\n    kind: dispenser\n    model: wired-dispenser\n    transport: {type: firmata, path: /dev/ttyACM0, buttons: [2]}\n    bind: {services: [intake, treasury]}\n',
      );
      const file = writeCenter(text);
      const run = checkConfig(file);
      const at = lineWith(text, 'type: firmata, path: /dev/ttyACM0');
      expect(expectProblem(run, `${file}:${at}: devices[${n}].transport: `)).toContain('add printer: {path: /dev/serial/by-id/...}');
      expect(expectProblem(run, `${file}:${at}: devices[${n}].transport.buttons: `)).toContain('1 button pins for 2 bound services');
    });

    it('refuses displays on one bus at different speeds, shared or serial pins on an Arduino, and a prefix a seven-segment display cannot show', () => {
      const text = replaceOnce(
        withDevices(
          '  - id: led-1\n    kind: display\n    model: led485-display\n    transport: {type: serial, path: /dev/ttyUSB0, address: 1}\n    bind: {window: 1}\n' +
            '  - id: led-2\n    kind: display\n    model: led485-display\n    transport: {type: serial, path: /dev/ttyUSB0, address: 2, baud: 19200}\n    bind: {window: 5}\n' +
            '  - id: dw\n    kind: dispenser\n    model: wired-dispenser\n    transport: {type: firmata, path: /dev/ttyACM0, buttons: [1, 3], led: 3, printer: {path: /dev/ttyUSB9}}\n    bind: {services: [intake, treasury]}\n' +
            '  - id: kpb\n    kind: keypad\n    model: line-keypad\n    transport: {type: serial, path: /dev/ttyUSB3, buttons: [2]}\n    bind: {window: 2}\n',
        ),
        'prefix: B',
        'prefix: W',
      );
      const file = writeCenter(text);
      const run = checkConfig(file);
      expect(expectProblem(run, `${file}:${lineWith(text, 'baud: 19200')}: devices[${n + 1}].transport.path: `)).toContain('every device on one bus uses the same baud and framing');
      const pinsLine = lineWith(text, 'buttons: [1, 3]');
      expect(expectProblem(run, `${file}:${pinsLine}: devices[${n + 2}].transport.buttons[0]: `)).toContain("pin 1 is the Arduino's serial line");
      expect(expectProblem(run, `${file}:${pinsLine}: devices[${n + 2}].transport.led: `)).toContain('pin 3 is already buttons[1]');
      expect(expectProblem(run, `${file}:${lineWith(text, 'buttons: [2]}')}: devices[${n + 3}].transport.buttons: `)).toContain('"buttons" does not go with type serial');
      // Window 5 serves treasury, whose prefix is now W: no seven-segment form.
      expect(run.out).toContain('window 5 serves "treasury" (tickets up to W888): a seven-segment display has no form for "W"');
    });

    it('refuses a relative device path, an address on a device that is not on a bus, and a speed a fixed-speed module does not have', () => {
      const text = withDevices(
        '  - id: kpr\n    kind: keypad\n    model: line-keypad\n    transport: {type: serial, path: ttyUSB4, address: 7}\n    bind: {window: 1}\n' +
          '  - id: dfp\n    kind: speaker\n    model: dfplayer-mini\n    transport: {type: serial, path: /dev/ttyUSB5, baud: 115200}\n    bind: {zone: hall}\n',
      );
      const file = writeCenter(text);
      const run = checkConfig(file);
      const at = lineWith(text, 'path: ttyUSB4');
      expect(expectProblem(run, `${file}:${at}: devices[${n}].transport.path: `)).toContain('must be a full device path');
      expect(expectProblem(run, `${file}:${at}: devices[${n}].transport.address: `)).toContain('is not a bus device');
      expect(expectProblem(run, `${file}:${lineWith(text, 'baud: 115200')}: devices[${n + 1}].transport.baud: `)).toContain('talks at 9600 baud, not 115200');
    });

    it('names the models wired over serial when a model is not', () => {
      const text = withDevices('  - id: kps\n    kind: keypad\n    model: qhub-keypad\n    transport: {type: serial, path: /dev/ttyUSB2}\n    bind: {window: 1}\n');
      const file = writeCenter(text);
      const line = expectProblem(checkConfig(file), `${file}:${lineWith(text, 'path: /dev/ttyUSB2')}: devices[${n}].transport.type: `);
      expect(line).toContain('line-keypad');
    });
  });
});
