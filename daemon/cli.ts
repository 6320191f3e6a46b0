#!/usr/bin/env node
/**
 * The `qhub` command.
 *   qhub check-config [FILE]
 *   qhub start [--config FILE] [--data DIR] [--pretty]
 *   qhub sim   [--config FILE] [--data DIR] [--rate N] [--duration S] [--speak] [--audio-device D] [--voice DIR] [--log|--panel]
 *   qhub print-test [--config FILE] [--out DIR] [--width 576|384]
 *   qhub voice text|play|check|pack …
 *   qhub report --day D | --week W …
 *   qhub backup [--out FILE] | qhub restore FILE   (daemon/backup/cli.ts)
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkCenterFile, EXAMPLE_CONFIG, formatProblem, summary } from '../config/load.js';

const USAGE = `usage:
  qhub check-config [FILE]                      check a center's config file (default: the example center)
  qhub start [--config FILE] [--data DIR]       run the hub
  qhub sim   [--config FILE] [--data DIR]       run the hub with simulated devices (a demo center); on a terminal a live panel of the hall
             [--rate N] [--speak [--audio-device D]] [--voice DIR] [--log]
                                                --rate: citizens a minute per dispenser (4); --speak: calls through this machine's audio
                                                out (aplay; D e.g. default, null); --voice: the clip pack; --log: log lines, no panel
  qhub status | devices | queues | windows       what the running hub sees (qhub window N next: act for a dead keypad; qhub help ctl)
  qhub selftest                                  the morning check of every device (exit 1 when one did not answer)
  qhub logs [--device ID] [--level warn] [-f]    the journal made readable (or --file FILE)
  qhub user add|remove|list ...                 people who log in to the API and pages (qhub user --help)
  qhub voice text|play|check|pack ...           what a call says, how it sounds, what the clip pack lacks (qhub voice for details)
  qhub backup [--out FILE]                      a checked copy of the event store (safe while the hub runs)
  qhub restore FILE                             put a backup in place of the store (the hub stopped)
  qhub print-test [--out DIR] [--width 576|384] write a sample ticket of the center as ticket.png and ticket.bin (the printer's exact bytes)
  qhub report --day D | --week W [--csv|--html] the day's or ISO week's queue report (qhub report --help for details)
options:
  --config FILE   the center's YAML file (default: $QHUB_CONFIG, else the bundled example center)
  --data DIR      where the event store lives (default: $QHUB_DATA, else hub.dataDir, else ./data; ./data-sim for sim)
  --pretty        readable logs for a terminal (default when stdout is a terminal)
  --json          JSON log lines even on a terminal`;

function configPath(given?: string): string {
  return resolve(given ?? process.env.QHUB_CONFIG ?? EXAMPLE_CONFIG);
}

function checkConfig(args: string[]): number {
  const file = configPath(args[0]);
  const { loaded, problems } = checkCenterFile(file);
  for (const p of problems) (p.severity === 'error' ? console.error : console.warn)(formatProblem(p));
  if (!loaded) {
    const n = problems.filter((p) => p.severity === 'error').length;
    console.error(`${file}: ${n} problem${n === 1 ? '' : 's'}; the hub will not start with this file`);
    return 1;
  }
  console.log(`${file}: OK — ${summary(loaded.config)}`);
  return 0;
}

/** A sample ticket of this center (its name, its first service), as PNG and as the exact printer bytes. */
async function printTest(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, out: { type: 'string' }, width: { type: 'string' } }, strict: true });
  const width = Number(values.width ?? 576);
  if (width !== 576 && width !== 384) {
    console.error('--width: 576 (80 mm paper) or 384 (58 mm paper)');
    return 1;
  }
  const file = configPath(values.config);
  const { loaded, problems } = checkCenterFile(file);
  if (!loaded) {
    for (const p of problems) console.error(formatProblem(p));
    return 1;
  }
  const { SAMPLE_TICKET, writePrintTest } = await import('../devices/render/print-test.js');
  const c = loaded.config;
  const s = c.services[0];
  const view = { ...SAMPLE_TICKET, center: c.center.name, ...(s ? { service: s.id, name: s.name, t: `${s.prefix}042` } : {}) };
  const out = resolve(values.out ?? 'print-test');
  const paths = writePrintTest(out, view, { widthDots: width });
  console.log(`${paths.png}: the ticket as printed, dot for dot (${width} dots wide)\n${paths.bin}: the printer's bytes; to print by hand: stty -F /dev/serial/by-id/<printer> <baud> raw && cat ${paths.bin} > /dev/serial/by-id/<printer>`);
  return 0;
}

/** `qhub CMD --help` for the commands whose help is here (the others answer it themselves). */
const HELP: Record<string, string> = {
  'check-config': `usage: qhub check-config [FILE]
  Checks a center's config file (default: $QHUB_CONFIG, else the bundled example center) and its secrets file:
  every problem as FILE:LINE: key.path: what is wrong, what to do. Exit 0 when the hub would start with it, 1 when not.`,
  start: `usage: qhub start [--config FILE] [--data DIR] [--pretty | --json]
  Runs the hub in the foreground (systemd runs it so: systemd/qhub.service). SIGTERM or Ctrl-C stops it (nothing is lost),
  SIGHUP reloads the config. --pretty: readable log lines (the default on a terminal); --json: JSON lines (the journal).`,
  sim: `usage: qhub sim [--config FILE] [--data DIR] [--rate N] [--duration S] [--speak [--audio-device D]] [--voice DIR] [--log | --panel]
  The hub with every MQTT device of the center simulated as a real client: dispensers issue tickets (N citizens a minute
  each, default 4), keypads call and finish, boards and speakers show and say what they are sent. Its store is ./data-sim
  unless --data says otherwise, never the center's.
  On a terminal: a live panel of the hall (boards, speakers, queues, windows, devices, the last warnings; q quits), the log
  in <data>/sim.log. --log (or --json): log lines instead. --panel: the panel even when stdout is not a terminal.
  --speak: every call also through this machine's audio out (aplay -D D, default "default"; "null" plays to nowhere);
  --voice DIR: the clip pack to speak from (default: voice.pack of the config, under the data directory; make one with
  qhub voice pack --data DIR). --duration S: stop after S seconds.`,
  'print-test': `usage: qhub print-test [--config FILE] [--out DIR] [--width 576|384]
  A sample ticket of the center (its name, its first service) as DIR/ticket.png (dot for dot) and DIR/ticket.bin (the
  printer's exact ESC/POS bytes). --width: 576 dots for 80 mm paper (default), 384 for 58 mm.`,
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd && HELP[cmd] && (rest.includes('--help') || rest.includes('-h'))) {
    console.log(HELP[cmd]);
    return 0;
  }
  switch (cmd) {
    case 'check-config':
      return checkConfig(rest);
    case 'start':
    case 'sim': {
      const { values } = parseArgs({
        args: rest,
        options: {
          config: { type: 'string' },
          data: { type: 'string' },
          pretty: { type: 'boolean' },
          json: { type: 'boolean' },
          rate: { type: 'string' },
          duration: { type: 'string' },
          panel: { type: 'boolean' },
          log: { type: 'boolean' },
          speak: { type: 'boolean' },
          'audio-device': { type: 'string' },
          voice: { type: 'string' },
        },
        strict: true,
      });
      const file = configPath(values.config);
      if (!existsSync(file)) {
        console.error(`${file}: file does not exist: pass --config FILE or set QHUB_CONFIG`);
        return 1;
      }
      const { runDaemon } = await import('./main.js');
      return runDaemon({
        configFile: file,
        // The simulator's made-up tickets go to their own store unless told otherwise, never into the center's.
        dataDir: values.data ?? process.env.QHUB_DATA ?? (cmd === 'sim' ? 'data-sim' : undefined),
        pretty: values.json ? false : (values.pretty ?? process.stdout.isTTY),
        simulate:
          cmd === 'sim'
            ? {
                rate: Number(values.rate ?? 4),
                duration: values.duration ? Number(values.duration) : undefined,
                // On a terminal the panel, unless --log (or --json) asks for the log lines; --panel forces it.
                panel: values.panel ?? (!values.log && !values.json && !!process.stdout.isTTY),
                ...(values.speak || values['audio-device'] ? { speak: { device: values['audio-device'] ?? 'default' } } : {}),
                ...(values.voice ? { voicePack: values.voice } : {}),
              }
            : undefined,
      });
    }
    case 'print-test':
      return printTest(rest);
    case 'reload':
    case 'selftest':
    case 'alerts':
    case 'status':
    case 'devices':
    case 'queues':
    case 'windows':
    case 'window':
    case 'assign':
    case 'ticket':
    case 'return':
    case 'cancel':
    case 'issue':
    case 'reprint': {
      const { ctlCommand } = await import('./ctl.js');
      return ctlCommand(cmd, rest, configPath);
    }
    case 'user': {
      const { userCommand } = await import('./api/cli-user.js');
      return userCommand(rest, configPath);
    }
    case 'logs':
      return (await import('./logs-cli.js')).logsCommand(rest);
    case 'report':
      return (await import('./reports/cli.js')).reportCommand(rest, configPath);
    case 'backup': {
      // The running hub takes it when there is one (it owns the store); else the store file is copied here.
      const byHub = await (await import('./ctl.js')).backupThroughHub(rest, configPath);
      if (byHub !== undefined) return byHub;
      return (await import('./backup/cli.js')).backupCommand(rest, configPath, { hubStopped: !rest.includes('--help') && !rest.includes('-h') });
    }
    case 'restore':
      return (await import('./backup/cli.js')).restoreCommand(rest, configPath);
    case 'voice': {
      const { voiceCommand } = await import('./voice/cli.js');
      return voiceCommand(rest, configPath);
    }
    case 'help':
      if (rest[0] === 'ctl' || rest[0] === 'window') {
        const { CTL_USAGE } = await import('./ctl.js');
        console.log(CTL_USAGE);
        return 0;
      }
      console.log(USAGE);
      return 0;
    case undefined:
    case '--help':
    case '-h':
      console.log(USAGE);
      return cmd === undefined ? 1 : 0;
    default:
      console.error(`qhub: unknown command "${cmd}"\n${USAGE}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`qhub: ${(e as Error).message ?? String(e)}`);
    process.exitCode = 1;
  },
);
