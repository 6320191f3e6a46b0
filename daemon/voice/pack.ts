/**
 * A clip pack: one folder per language (`ar/`, `en/`, and `sound/` for the
 * chime), each with a `manifest.json` `{"lang": "ar", "clips": {"<id>":
 * "<file>"}}`. The ids are the inventory of contract/voice.ts; a center
 * replaces files with recorded voices under the same ids. Clips are 16-bit
 * PCM mono WAV, all at one sample rate.
 *
 * A call is rendered into one gap-free buffer: each clip trimmed of its own
 * silence, joined with the configured pauses. A clip that is missing or
 * unreadable is named (at load, by `qhub voice check`) and left out of the
 * call, which still plays what it can.
 */
import { execFile } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join as pathJoin } from 'node:path';
import { promisify } from 'node:util';
import { espeakArabic } from './espeak.js';
import { CLIPS, SOUNDS, type ClipRef } from '../../contract/voice.js';
import { chime, durationMs, join, readWav, trim, writeWav, type Pcm } from './wav.js';

export type PackLang = 'ar' | 'en' | 'sound';
export const PACK_LANGS: readonly PackLang[] = ['ar', 'en', 'sound'];

/** Every clip id a call can use, per folder. */
export function inventory(lang: PackLang): string[] {
  return lang === 'sound' ? Object.keys(SOUNDS) : Object.keys(CLIPS[lang]);
}

export interface PackProblem {
  lang: PackLang;
  id: string;
  file?: string;
  problem: string;
}

export interface Rendered {
  wav: Buffer;
  durationMs: number;
  /** Clips left out (missing from the pack). */
  missing: ClipRef[];
  /** Where each clip starts and ends in the buffer, for tests and the curious. */
  parts: { clip: ClipRef; startMs: number; endMs: number }[];
}

export interface RenderOptions {
  /** Silence between clips. */
  pauseMs: number;
  /** Silence between the Arabic and the English part of a call in both languages (and after the chime). */
  langPauseMs: number;
}

/**
 * Reads a file into one buffer reused from file to file: loading a pack of
 * 156 clips then leaves only the trimmed samples behind, not 7 MB of file
 * copies waiting for the garbage collector (the example center with the
 * demo pack, GET /health after start: 105 MiB resident before, 84 after;
 * 79 without a pack).
 */
let scratch = Buffer.alloc(256 * 1024);
function readInto(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > scratch.length) scratch = Buffer.alloc(size);
    const n = readSync(fd, scratch, 0, size, 0);
    return scratch.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

export class VoicePack {
  private readonly clips = new Map<string, Pcm>();
  readonly problems: PackProblem[] = [];
  rate = 22050;

  private constructor(readonly dir: string) {}

  /** Loads what there is; every clip the inventory needs and the pack lacks is a problem, named. */
  static load(dir: string): VoicePack {
    const p = new VoicePack(dir);
    const rates = new Map<number, number>();
    const loaded: { lang: PackLang; id: string; file: string; pcm: Pcm }[] = [];
    for (const lang of PACK_LANGS) {
      const manifestPath = pathJoin(dir, lang, 'manifest.json');
      let files: Record<string, string> = {};
      if (!existsSync(manifestPath)) {
        p.problems.push({ lang, id: '*', file: manifestPath, problem: `no manifest: the ${lang} clips cannot be found (qhub voice pack writes a demo pack)` });
      } else {
        try {
          const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as { clips?: Record<string, string> };
          files = m.clips && typeof m.clips === 'object' ? m.clips : {};
        } catch (e) {
          p.problems.push({ lang, id: '*', file: manifestPath, problem: `manifest is not JSON: ${(e as Error).message}` });
        }
      }
      for (const id of inventory(lang)) {
        const name = files[id];
        if (name === undefined) {
          if (existsSync(manifestPath)) p.problems.push({ lang, id, problem: 'not in the manifest' });
          continue;
        }
        const file = pathJoin(dir, lang, name);
        try {
          const pcm = trim(readWav(readInto(file)));
          loaded.push({ lang, id, file, pcm });
          rates.set(pcm.rate, (rates.get(pcm.rate) ?? 0) + 1);
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          p.problems.push({ lang, id, file, problem: err.code === 'ENOENT' ? 'file missing' : `unreadable: ${err.message}` });
        }
      }
    }
    // The pack's rate is the one most clips have; a clip at another rate would play at the wrong pitch in a joined buffer.
    const rate = [...rates].sort((a, b) => b[1] - a[1])[0]?.[0];
    if (rate) p.rate = rate;
    for (const c of loaded) {
      if (c.pcm.rate !== p.rate) p.problems.push({ lang: c.lang, id: c.id, file: c.file, problem: `unreadable: ${c.pcm.rate} Hz, the pack is ${p.rate} Hz (sox in.wav -r ${p.rate} -c 1 -b 16 out.wav)` });
      else p.clips.set(`${c.lang}/${c.id}`, c.pcm);
    }
    return p;
  }

  get size(): number {
    return this.clips.size;
  }

  has(c: ClipRef): boolean {
    return this.clips.has(`${c.lang}/${c.id}`);
  }

  /** A clip's samples (trimmed), if the pack has it. */
  clip(c: ClipRef): Pcm | undefined {
    return this.clips.get(`${c.lang}/${c.id}`);
  }

  durationOf(c: ClipRef): number | undefined {
    const pcm = this.clips.get(`${c.lang}/${c.id}`);
    return pcm ? durationMs(pcm) : undefined;
  }

  /** One buffer for a call: the clips there are, in order, with the pauses; missing clips named in the result. */
  render(clips: readonly ClipRef[], o: RenderOptions): Rendered {
    const present: { clip: ClipRef; pcm: Pcm }[] = [];
    const missing: ClipRef[] = [];
    for (const clip of clips) {
      const pcm = this.clips.get(`${clip.lang}/${clip.id}`);
      if (pcm) present.push({ clip, pcm });
      else missing.push(clip);
    }
    // The longer pause where the language changes (and after the chime), the short one between words.
    const gaps = present.map((c, i) => {
      const next = present[i + 1];
      return next && next.clip.lang !== c.clip.lang ? o.langPauseMs : o.pauseMs;
    });
    const pcm = join(
      this.rate,
      present.map((c) => c.pcm.samples),
      gaps,
    );
    const parts: Rendered['parts'] = [];
    let at = 0;
    present.forEach((c, i) => {
      const len = (c.pcm.samples.length * 1000) / this.rate;
      parts.push({ clip: c.clip, startMs: Math.round(at), endMs: Math.round(at + len) });
      at += len + (i < present.length - 1 ? gaps[i]! : 0);
    });
    return { wav: writeWav(pcm), durationMs: durationMs(pcm), missing, parts };
  }
}

/** The problems of a pack as lines a technician can act on, one clip per line. */
export function describeProblems(dir: string, problems: readonly PackProblem[]): string[] {
  return problems.map((p) => `${p.file ?? pathJoin(dir, p.lang, 'manifest.json')}: ${p.lang} clip "${p.id}": ${p.problem}`);
}

const run = promisify(execFile);

export class PackExistsError extends Error {}

/**
 * Writes a complete demo pack with espeak-ng (the chime is synthesized
 * here), so the hub speaks out of the box. Arabic with espeak-ng's `ar`
 * voice, English with `en-gb` (the British readings of words.ts).
 */
export async function generateDemoPack(dir: string, o: { espeak?: string; force?: boolean; onClip?: (done: number, total: number) => void } = {}): Promise<{ clips: number }> {
  const espeak = o.espeak ?? 'espeak-ng';
  // A center's recorded voices live here too: never written over without being asked.
  const present = PACK_LANGS.filter((l) => existsSync(pathJoin(dir, l, 'manifest.json')));
  if (present.length && !o.force)
    throw new PackExistsError(`${dir} already holds a pack (${present.join(', ')}): writing the demo pack would replace its clips; use --force to do so, or --out another folder`);
  try {
    await run(espeak, ['--version']);
  } catch {
    throw new Error(`${espeak} is not installed: apt-get install espeak-ng (or record the clips yourself: docs/VOICE.md lists them)`);
  }
  const voices: Record<'ar' | 'en', string> = { ar: 'ar', en: 'en-gb' };
  const total = inventory('ar').length + inventory('en').length + inventory('sound').length;
  let done = 0;
  for (const lang of ['ar', 'en'] as const) {
    mkdirSync(pathJoin(dir, lang), { recursive: true });
    const clips: Record<string, string> = {};
    for (const [id, words] of Object.entries(CLIPS[lang])) {
      const file = `${id}.wav`;
      // -s 140: a little slower than espeak's default, as a hall announcement is. Arabic with its vowels marked (espeak.ts).
      const say = lang === 'ar' ? (espeakArabic(id) ?? words) : words;
      await run(espeak, ['-v', voices[lang], '-s', '140', '-w', pathJoin(dir, lang, file), say]);
      clips[id] = file;
      o.onClip?.(++done, total);
    }
    writeFileSync(pathJoin(dir, lang, 'manifest.json'), JSON.stringify({ lang, source: `espeak-ng ${voices[lang]} (demo)`, clips }, null, 1) + '\n');
  }
  mkdirSync(pathJoin(dir, 'sound'), { recursive: true });
  writeFileSync(pathJoin(dir, 'sound', 'chime.wav'), writeWav(chime(22050)));
  writeFileSync(pathJoin(dir, 'sound', 'manifest.json'), JSON.stringify({ lang: 'sound', source: 'synthesized by qhub', clips: { chime: 'chime.wav' } }, null, 1) + '\n');
  o.onClip?.(++done, total);
  return { clips: done };
}
