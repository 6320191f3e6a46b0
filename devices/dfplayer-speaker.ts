/**
 * DFPlayer Mini: a serial MP3 module with an SD card, wired to the Pi
 * (9600 8N1). It plays a call as the clips of the hub's `announce` message,
 * each started after the previous one reported "finished" (or timed out),
 * never overlapping; calls queue behind each other.
 *
 * The SD card holds the clip pack by number, because the module addresses
 * files only as folder/track: folder 01 = Arabic, 02 = English, 03 = sounds
 * (the chime); a clip's track is its position in the pack's inventory
 * (contract/voice.ts: CLIPS, SOUNDS), counting from 1. New clips are only
 * ever appended to the inventory, so a card once written stays right.
 *
 * Availability: the module answers a status query; it is probed when the
 * line opens and every 30 s while idle.
 */
import { DfPlayer, type DfClip } from '../drivers/dfplayer.js';
import { CLIPS, SOUNDS } from '../contract/voice.js';
import type { ModelDefinition, WiredDevice, WiredIo } from './model.js';

const FOLDERS = { ar: 1, en: 2, sound: 3 } as const;
type ClipLang = keyof typeof FOLDERS;
const PROBE_MS = 30_000;
/** The driver's longest wait for one clip's "finished" report, plus its quiet time after it. */
const CLIP_TIMEOUT_MS = 10_000;
const SETTLE_MS = 100;

const inventory: Record<ClipLang, string[]> = { ar: Object.keys(CLIPS.ar), en: Object.keys(CLIPS.en), sound: Object.keys(SOUNDS) };

/** A clip of the pack → its file on the card; undefined for a clip the card cannot hold. */
export function dfTrackOf(clip: { lang: string; id: string }): DfClip | undefined {
  if (!Object.hasOwn(FOLDERS, clip.lang)) return undefined;
  const lang = clip.lang as ClipLang;
  const i = inventory[lang].indexOf(clip.id);
  return i < 0 ? undefined : { folder: FOLDERS[lang], track: i + 1 };
}

/** The card's layout: `01/001.mp3` → clip, for whoever writes the card. */
export function dfCardLayout(): { file: string; lang: ClipLang; id: string }[] {
  return (Object.keys(FOLDERS) as ClipLang[]).flatMap((lang) =>
    inventory[lang].map((id, i) => ({ file: `${String(FOLDERS[lang]).padStart(2, '0')}/${String(i + 1).padStart(3, '0')}.mp3`, lang, id })),
  );
}

function open(io: WiredIo): WiredDevice {
  const line = io.line();
  const player = new DfPlayer(line, { log: io.log, clipTimeoutMs: CLIP_TIMEOUT_MS, settleMs: SETTLE_MS });
  let busy = 0;
  let announced = 0;
  let unknownClips = 0;
  player.on('present', () => io.online({ model: 'dfplayer-mini' }));
  player.on('gone', (why: string) => io.offline(`the module does not answer (${why})`));
  const probe = () => {
    if (busy === 0) void player.probe(1000);
  };
  const offState = line.onState((up) => (up ? setTimeout(probe, 300) : io.offline('serial port closed (cable pulled?)')));
  const timer = setInterval(probe, PROBE_MS);
  timer.unref();

  return {
    send(m) {
      if (m.leaf !== 'announce') return;
      const body = m.body;
      const clips = body.clips;
      const files: DfClip[] = [];
      for (const c of clips) {
        const f = dfTrackOf(c);
        if (f) files.push(f);
        else {
          unknownClips++;
          io.log.warn({ clip: c }, 'clip is not in the pack inventory; skipped');
        }
      }
      // Tells the hub this call is over, as a networked speaker does: the announcer paces the next call on it,
      // so it is said when the module has really finished the clips (or could play none of them).
      const over = (ok: boolean) => io.request('played', { v: 1, id: body.id, ok }).catch((e: Error) => io.log.warn({ id: body.id, err: e.message }, 'played not reported'));
      if (!files.length) {
        io.log.warn({ id: body.id }, 'announcement without playable clips');
        return void over(false);
      }
      busy++;
      player
        .play(files)
        .then((r) => {
          announced++;
          io.log.debug({ id: body.id, ...r }, 'announcement played');
          if (r.failed === files.length) io.log.warn({ id: body.id }, 'no clip of the announcement could be played');
          return over(r.failed < files.length);
        })
        .catch((e: Error) => {
          io.log.warn({ id: body.id, err: e.message }, 'announcement not played');
          return over(false);
        })
        .finally(() => busy--);
    },
    async stop() {
      clearInterval(timer);
      offState();
      player.close();
    },
    health: () => ({ announced, unknownClips, ...player.stats() }),
  };
}

export const dfplayerSpeaker: ModelDefinition = {
  model: 'dfplayer-mini',
  kind: 'speaker',
  description: 'DFPlayer Mini serial MP3 module on a serial line (9600 8N1), clips on its SD card by folder/track',
  transports: ['serial'],
  sends: ['played'],
  accepts: ['announce'],
  languages: ['ar', 'en'],
  bauds: [9600],
  reportsEnd: { clipMs: CLIP_TIMEOUT_MS + SETTLE_MS },
  wired: { open },
};
