/**
 * `qhub voice …`: check a clip pack by eye and by ear.
 *   qhub voice text A042 --window 3 [--lang ar|en|both] [--inquiry] [--short]
 *   qhub voice play A042 --window 3 [--lang …] [--out FILE] [--device ALSA]
 *   qhub voice check
 *   qhub voice pack [--out DIR] [--if-missing]
 *   qhub voice sdcard DIR
 * Common: --config FILE, --data DIR (the pack is `voice.pack` under the data directory).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkCenterFile, formatProblem } from '../../config/load.js';
import type { CenterConfig } from '../../config/schema.js';
import { composeFor, type Lang } from './announcer.js';
import { describeProblems, generateDemoPack, VoicePack } from './pack.js';
import { APLAY_MISSING, findProgram } from './programs.js';
import { writeWav } from './wav.js';
import { clipsText } from '../../contract/voice.js';

export const VOICE_USAGE = `usage:
  qhub voice text TICKET --window N [--lang ar|en|both] [--inquiry] [--short]   the words of that call, on one line
  qhub voice play TICKET --window N [--lang ...] [--out FILE] [--device DEV]     render it with the pack and play it (aplay), or write it to FILE
  qhub voice check                                                             name every missing or unreadable clip of the pack
  qhub voice pack [--out DIR] [--if-missing|--force]                           write a complete demo pack with espeak-ng (never over a pack without --force)
  qhub voice sdcard DIR                                                        write the pack as a DFPlayer Mini's SD card (01/001.wav …)
options: --config FILE, --data DIR (the pack is voice.pack under the data directory, default DATA/voice)`;

function load(configFile: string): CenterConfig | undefined {
  const { loaded, problems } = checkCenterFile(configFile);
  if (!loaded) {
    for (const p of problems) console.error(formatProblem(p));
    return undefined;
  }
  return loaded.config;
}

export async function voiceCommand(args: string[], configFile: (given?: string) => string): Promise<number> {
  if (args.includes('--help') || args.includes('-h') || args[0] === 'help') {
    console.log(VOICE_USAGE);
    return 0;
  }
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string' },
      data: { type: 'string' },
      window: { type: 'string', short: 'w' },
      lang: { type: 'string' },
      inquiry: { type: 'boolean' },
      short: { type: 'boolean' },
      out: { type: 'string' },
      device: { type: 'string' },
      'if-missing': { type: 'boolean' },
      force: { type: 'boolean' },
    },
  });
  const config = load(configFile(values.config));
  if (!config) return 1;
  const dataDir = resolve(values.data ?? process.env.QHUB_DATA ?? config.hub.dataDir ?? 'data');
  const packDir = resolve(dataDir, config.voice.pack);

  const call = (): { clips: ReturnType<typeof composeFor>['clips']; text: string } | number => {
    const [t, ...extra] = positionals;
    if (!t) {
      console.error(`the number to call is needed (a ticket like A042, or with --inquiry an inquiry number)\n${VOICE_USAGE}`);
      return 1;
    }
    if (extra.length) {
      console.error(`one number at a time: "${extra.join(' ')}" is not understood (--inquiry takes no value: the number itself is the inquiry number)`);
      return 1;
    }
    const w = Number(values.window);
    if (values.window === undefined || !/^\d+$/.test(values.window) || w < 1 || w > 999) {
      console.error(`--window: ${values.window === undefined ? 'missing' : `"${values.window}" is not a window number`}; windows are numbered 1 to 999`);
      return 1;
    }
    if (values.lang !== undefined && !['ar', 'en', 'both'].includes(values.lang)) {
      console.error(`--lang: "${values.lang}"; use ar, en or both`);
      return 1;
    }
    const langs: Lang[] = values.lang === 'ar' || values.lang === 'en' ? [values.lang] : values.lang === 'both' ? ['ar', 'en'] : (config.voice.languages ?? config.center.languages);
    try {
      const c = composeFor({ t, w, ...(values.inquiry ? { inquiry: true } : {}) }, langs, { chime: config.voice.chime, short: !!values.short, inquiry: config.voice.inquiry });
      return { clips: c.clips, text: clipsText(c.clips) };
    } catch (e) {
      console.error((e as Error).message);
      return 1;
    }
  };

  switch (sub) {
    case 'text': {
      const c = call();
      if (typeof c === 'number') return c;
      console.log(c.text);
      return 0;
    }
    case 'check': {
      const pack = VoicePack.load(packDir);
      for (const line of describeProblems(packDir, pack.problems)) console.error(line);
      if (pack.problems.length) {
        console.error(`${packDir}: ${pack.problems.length} problem${pack.problems.length === 1 ? '' : 's'}; calls still play the clips there are`);
        return 1;
      }
      console.log(`${packDir}: OK — ${pack.size} clips at ${pack.rate} Hz`);
      return 0;
    }
    case 'play': {
      const c = call();
      if (typeof c === 'number') return c;
      if (!values.out && !findProgram('aplay')) {
        console.error(`${APLAY_MISSING}; or write the call to a file: qhub voice play ${positionals[0]} --window ${values.window} --out call.wav`);
        return 1;
      }
      const pack = VoicePack.load(packDir);
      if (pack.size === 0) {
        console.error(`${packDir}: no clips (qhub voice pack writes a demo pack)`);
        return 1;
      }
      const r = pack.render(c.clips, config.voice);
      for (const m of r.missing) console.error(`clip ${m.lang}/${m.id} missing or unreadable (qhub voice check says why): left out of the call`);
      console.log(`${c.text}\n${r.durationMs} ms, ${r.parts.length} clips`);
      if (values.out) {
        writeFileSync(resolve(values.out), r.wav);
        console.log(`written to ${resolve(values.out)}`);
        return 0;
      }
      const tmp = mkdtempSync(join(tmpdir(), 'qhub-voice-'));
      const file = join(tmp, 'call.wav');
      writeFileSync(file, r.wav);
      const device = values.device ?? config.voice.local?.device ?? 'default';
      return new Promise<number>((done) =>
        execFile('aplay', ['-q', '-D', device, file], (err, _out, stderr) => {
          rmSync(tmp, { recursive: true, force: true });
          if (err) {
            // aplay's own words say what is wrong (no card, no such device).
            console.error(`aplay -D ${device} failed: ${(stderr || err.message).trim().split('\n')[0]} (qhub voice play --out FILE writes the call instead)`);
            return done(1);
          }
          done(0);
        }),
      );
    }
    case 'sdcard': {
      const out = positionals[0];
      if (!out) {
        console.error(`the SD card's folder is needed\n${VOICE_USAGE}`);
        return 1;
      }
      const pack = VoicePack.load(packDir);
      for (const line of describeProblems(packDir, pack.problems)) console.error(line);
      const { dfCardLayout } = await import('../../devices/dfplayer-speaker.js');
      let written = 0;
      for (const f of dfCardLayout()) {
        const pcm = pack.clip({ lang: f.lang, id: f.id });
        if (!pcm) continue;
        const file = resolve(out, f.file.replace(/\.mp3$/, '.wav'));
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, writeWav(pcm));
        written++;
      }
      console.log(`${resolve(out)}: ${written} files (01 Arabic, 02 English, 03 sounds; a clip's number is its place in the inventory); copy them to the card's root`);
      if (pack.problems.length) console.error(`${pack.problems.length} clips are not on the card (named above): the DFPlayer skips them`);
      return written && !pack.problems.length ? 0 : 1;
    }
    case 'pack': {
      const out = values.out ? resolve(values.out) : packDir;
      if (values['if-missing'] && ['ar', 'en', 'sound'].some((l) => existsSync(join(out, l, 'manifest.json')))) {
        const pack = VoicePack.load(out);
        console.log(`${out}: a pack is there (${pack.size} clips${pack.problems.length ? `, ${pack.problems.length} problems: qhub voice check names them` : ''}); not written over`);
        return 0;
      }
      try {
        const r = await generateDemoPack(out, { force: !!values.force, onClip: (n, total) => process.stderr.isTTY && process.stderr.write(`\r${n}/${total} clips`) });
        if (process.stderr.isTTY) process.stderr.write('\n');
        console.log(`${out}: demo pack of ${r.clips} clips written (espeak-ng); replace files with recorded voices under the same ids`);
        return 0;
      } catch (e) {
        console.error((e as Error).message);
        // --if-missing is for start scripts: the hub still runs, sending calls as text.
        return values['if-missing'] ? 0 : 1;
      }
    }
    default:
      console.error(VOICE_USAGE);
      return 1;
  }
}
