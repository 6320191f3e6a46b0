/**
 * The announcer: every committed call and recall is spoken in its hall
 * zone, in the order the calls were made, one at a time, never cut off.
 * It is fed by committed events on the bus, never by a device request, so
 * a call is announced only once it is on disk; and it is a listener of its
 * own, so a board update never waits for the voice.
 *
 * A call becomes clips (words.ts), the clips one gap-free buffer (pack.ts),
 * served at `GET /voice/calls/<id>.wav`. Each output of the zone gets it:
 * networked speakers (`announce` with the clips and the file's path, paced
 * by their `played`, or a timeout when one never answers), a DFPlayer
 * (the clips, on its SD card), the Pi's own audio out (aplay). When calls
 * come faster than they are spoken, the next ones get the short form (no
 * chime, fewer words): every call is still announced.
 *
 * Owns: the zone queues, the rendered calls of late. May touch: the bus
 * (listens to `committed`, `speaker.played`, device presence; emits
 * `voice.call`), the device links, the device hub (who is online), the HTTP
 * module's routes.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { CenterConfig, DeviceConfig } from '../../config/schema.js';
import { modelOf } from '../../devices/index.js';
import type { DeviceLink } from '../../contract/devices.js';
import { PROTOCOL_VERSION } from '../../contract/protocol.js';
import { callOf, zonesOf, type Call } from '../../contract/calls.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';
import { Throttle } from '../spine/throttle.js';
import { describeProblems, VoicePack, type Rendered } from './pack.js';
import { APLAY_MISSING, findProgram } from './programs.js';
import { composeCall, type ClipRef } from '../../contract/voice.js';

export type Lang = 'ar' | 'en';

/** What is said for one call: the clips (both languages in turn, or one), and the words per language. */
export function composeFor(call: Pick<Call, 't' | 'w' | 'inquiry'>, languages: readonly Lang[], o: { chime: boolean; short: boolean; inquiry: 'digits' | 'pairs' | 'triples' }): { clips: ClipRef[]; text: Partial<Record<Lang, string>> } {
  const lang = languages.length > 1 ? 'both' : (languages[0] ?? 'ar');
  const spec = { t: call.t, w: call.w, inquiryReading: o.inquiry, ...(call.inquiry ? { inquiry: true } : {}) };
  // composeCall's `chime: false` is its short form; `voice.chime: false` only leaves the chime out of the full form.
  let clips = composeCall({ ...spec, lang, chime: !o.short }).clips;
  if (!o.chime) clips = clips.filter((c) => !(c.lang === 'sound' && c.id === 'chime'));
  const text: Partial<Record<Lang, string>> = {};
  for (const l of languages) text[l] = composeCall({ ...spec, lang: l, chime: !o.short }).text;
  return { clips, text };
}

/**
 * One zone's calls: in the order they were pushed, one at a time. `speak`
 * resolves when the call has been heard everywhere it goes; a call that
 * starts with others waiting behind it (`shortenAt` in all) is spoken short.
 * A call whose window has since called another number (waiting behind it
 * in the queue) is not spoken: that citizen is no longer expected there,
 * and sending them would call the wrong ticket. A recall of the same number
 * is not "another number": both are spoken.
 */
export class ZoneQueue {
  private readonly queue: Call[] = [];
  private running = false;
  spoken = 0;
  shortened = 0;
  superseded = 0;
  private readonly quiet = new Throttle(10_000);

  constructor(private readonly o: { shortenAt: number; speak: (call: Call, short: boolean) => Promise<void>; log?: Logger }) {
    this.shortenAt = o.shortenAt;
  }

  /** A zone with this many calls waiting speaks the short form (voice.shortenAt; a reload may change it). */
  shortenAt: number;

  get waiting(): number {
    return this.queue.length;
  }

  push(call: Call): void {
    this.queue.push(call);
    void this.run();
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length) {
        const call = this.queue.shift()!;
        const later = this.queue.find((c) => c.w === call.w && c.t !== call.t);
        if (later) {
          this.superseded++;
          // Routine when clerks call faster than the zone speaks: once every 10 s a zone, with how many more.
          const q = this.quiet.pass('superseded');
          if (q.ok)
            this.o.log?.info(
              { t: call.t, w: call.w, then: later.t, ...(q.held ? { more: q.held } : {}) },
              `call of ${call.t} at window ${call.w} not spoken: the window called ${later.t} before its turn came${q.held ? ` (and ${q.held} more calls like it in this zone)` : ''}`,
            );
          continue;
        }
        const short = this.queue.length + 1 >= this.shortenAt;
        if (short) this.shortened++;
        try {
          await this.o.speak(call, short);
        } catch (e) {
          // One call that could not be spoken must not silence the ones after it.
          this.o.log?.error({ t: call.t, w: call.w, err: (e as Error).message }, 'call not announced');
        }
        this.spoken++;
      }
    } finally {
      this.running = false;
    }
  }
}

interface Speaker {
  device: DeviceConfig;
  link: DeviceLink;
}

/** Rendered calls kept for speakers that fetch them late (a bilingual call of 12 s is about 0.5 MB). */
const KEEP_RENDERED = 12;

export class Announcer implements HubModule {
  readonly name = 'announcer';
  private config: CenterConfig;
  private readonly log: Logger;
  private speakers: Speaker[] = [];
  private readonly zones = new Map<string, ZoneQueue>();
  private readonly waiters = new Map<string, () => void>();
  /** Zones waiting for one of their speakers to come back. */
  private readonly wakers = new Set<() => void>();
  private readonly rendered = new Map<number, Rendered>();
  private readonly unsubscribe: (() => void)[] = [];
  private pack?: VoicePack;
  private languages: Lang[];
  private readonly stats = { announced: 0, sent: 0, played: 0, timedOut: 0, missingClips: 0, localPlayed: 0, localFailures: 0, unheard: 0 };
  private stopped = false;
  private aplayMissing = false;

  constructor(private readonly ctx: HubContext) {
    this.config = ctx.config;
    this.log = ctx.log.child({ mod: 'announcer' });
    const v = ctx.config.voice;
    this.languages = (v.languages ?? ctx.config.center.languages).filter((l): l is Lang => l === 'ar' || l === 'en');
  }

  /**
   * A reloaded config: voice settings, languages, and which speakers call
   * which zone apply to the next call; a changed pack folder is loaded again.
   * Calls already queued keep their turn.
   */
  reload(config: CenterConfig): void {
    const packBefore = this.packDir;
    this.config = config;
    const v = config.voice;
    this.languages = (v.languages ?? config.center.languages).filter((l): l is Lang => l === 'ar' || l === 'en');
    this.speakers = config.devices.filter((d) => d.enabled && modelOf(d).accepts.includes('announce')).map((device) => ({ device, link: this.ctx.links.link(device) }));
    for (const q of this.zones.values()) q.shortenAt = v.shortenAt;
    if (this.packDir !== packBefore) {
      this.pack = VoicePack.load(this.packDir);
      this.log.info({ pack: this.packDir, clips: this.pack.size, problems: this.pack.problems.length }, 'voice pack loaded again (voice.pack changed)');
    }
  }

  /** The pack folder: relative paths are under the data directory. */
  get packDir(): string {
    return resolve(this.ctx.dataDir, this.config.voice.pack);
  }

  start(): void {
    this.pack = VoicePack.load(this.packDir);
    const problems = describeProblems(this.packDir, this.pack.problems);
    if (this.pack.size === 0)
      this.log.warn(
        { pack: this.packDir },
        'no voice clips here: networked speakers get the words and clip ids but no rendered call, the Pi\'s audio out stays silent (a DFPlayer plays from its own SD card); run "qhub voice pack" for a demo pack (needs espeak-ng)',
      );
    else {
      for (const line of problems) this.log.warn({ pack: this.packDir }, line);
      this.log.info({ pack: this.packDir, clips: this.pack.size, rate: this.pack.rate, problems: problems.length }, 'voice pack loaded');
    }
    const local = this.config.voice.local;
    if (local && !findProgram('aplay')) {
      this.aplayMissing = true;
      this.log.error({ device: local.device, zones: local.zones }, `${APLAY_MISSING}: the Pi's audio out (voice.local) stays silent until it is installed and the hub restarted`);
    }
    const zoneOf = zonesOf(this.config);
    this.speakers = this.config.devices.filter((d) => d.enabled && modelOf(d).accepts.includes('announce')).map((device) => ({ device, link: this.ctx.links.link(device) }));
    for (const s of this.speakers) {
      const ends = modelOf(s.device).reportsEnd;
      if (ends)
        this.log.info(
          { device: s.device.id, model: s.device.model, clipMs: ends.clipMs },
          `${s.device.id} plays each call from its own card and reports when it has finished: the next call of its zone is sent then (a call its window moved past meanwhile is not spoken), or after ${ends.clipMs / 1000} s a clip without that report`,
        );
    }
    this.ctx.routes.routePrefix('GET', '/voice/calls/', ({ url }) => {
      const m = /^\/voice\/calls\/(\d+)\.wav$/.exec(url.pathname);
      const r = m ? this.rendered.get(Number(m[1])) : undefined;
      return r ? { code: 200, bytes: r.wav, type: 'audio/wav' } : { code: 404, body: { error: 'not_found', message: 'no such call (only the last 12 are kept)' } };
    });
    const bus = this.ctx.bus;
    this.unsubscribe.push(
      bus.on('committed', this.name, ({ events }) => {
        for (const e of events) {
          const call = callOf(e, zoneOf);
          if (call) this.queueOf(call.zone).push(call);
        }
      }),
      bus.on('speaker.played', this.name, ({ device, id }) => {
        this.waiters.get(`${device.id}/${id}`)?.();
      }),
      bus.on('device.online', this.name, () => {
        for (const wake of [...this.wakers]) wake();
      }),
      bus.on('device.offline', this.name, ({ device }) => {
        // Nobody is listening there any more: do not hold the zone for it.
        for (const [k, done] of this.waiters) if (k.startsWith(`${device.id}/`)) done();
      }),
    );
  }

  stop(): void {
    this.stopped = true;
    for (const u of this.unsubscribe.splice(0)) u();
    for (const done of this.waiters.values()) done();
    for (const wake of [...this.wakers]) wake();
  }

  health(): ModuleHealth {
    const zones = Object.fromEntries([...this.zones].map(([z, q]) => [z, { waiting: q.waiting, spoken: q.spoken, shortened: q.shortened, superseded: q.superseded }]));
    const problems = this.pack?.problems.length ?? 0;
    // A pack with holes is something to fix (calls go out with words missing); no pack at all is a choice (text-only speakers).
    return {
      ok: (problems === 0 || (this.pack?.size ?? 0) === 0) && !this.aplayMissing,
      summary: { voice: { clips: this.pack?.size ?? 0, packProblems: problems, ...(this.aplayMissing ? { localOutput: APLAY_MISSING } : {}) } },
      detail: { pack: this.packDir, speakers: this.speakers.length, languages: this.languages, zones, ...this.stats },
    };
  }

  /** Presence is the device hub's (the one record of who is online). */
  private isOnline(id: string): boolean {
    return this.ctx.presence.isOnline(id);
  }

  private queueOf(zone: string): ZoneQueue {
    let q = this.zones.get(zone);
    if (!q) this.zones.set(zone, (q = new ZoneQueue({ shortenAt: this.config.voice.shortenAt, speak: (c, short) => this.speak(c, short), log: this.log })));
    return q;
  }

  /** Speaks one call on every output of its zone; resolves when all have finished (or given up). */
  private async speak(call: Call, short: boolean): Promise<void> {
    if (this.stopped) return;
    const v = this.config.voice;
    const { clips, text } = composeFor(call, this.languages, { chime: v.chime, short, inquiry: v.inquiry });
    const r = this.pack && this.pack.size ? this.pack.render(clips, v) : undefined;
    if (r) {
      this.rendered.set(call.seq, r);
      while (this.rendered.size > KEEP_RENDERED) this.rendered.delete(this.rendered.keys().next().value!);
      if (r.missing.length) {
        this.stats.missingClips += r.missing.length;
        this.log.warn({ t: call.t, missing: r.missing.map((c) => `${c.lang}/${c.id}`) }, 'call spoken without clips missing from the pack');
      }
    }
    const durationMs = r?.durationMs ?? 0;
    const path = r ? `/voice/calls/${call.seq}.wav` : undefined;
    // `id` is the call's sequence number, the same number (and type) as a board's `flash.seq`.
    const body = {
      v: PROTOCOL_VERSION,
      id: call.seq,
      t: call.t,
      w: call.w,
      zone: call.zone,
      recall: call.recall,
      short,
      lang: this.languages,
      text,
      clips,
      ...(path ? { path, durationMs } : {}),
    };
    this.stats.announced++;
    this.ctx.bus.emit('voice.call', { zone: call.zone, id: call.seq, t: call.t, w: call.w, recall: call.recall, short, ...(path ? { path, durationMs } : {}) });
    const waits: Promise<void>[] = [];
    const mine = this.speakers.filter((s) => (s.device.bind.zone !== undefined ? s.device.bind.zone === call.zone : s.device.bind.window === call.w));
    const local = !!(v.local && r && !this.aplayMissing && v.local.zones.includes(call.zone));
    if (mine.length && !local && !mine.some((s) => this.isOnline(s.device.id))) {
      // Every speaker of the zone is away (a Wi-Fi drop, a reboot): the call waits for one to come back, for a while.
      const back = await this.someoneOnline(mine, v.holdMs);
      if (!back) {
        this.stats.unheard++;
        this.log.warn({ t: call.t, w: call.w, zone: call.zone, waitedMs: v.holdMs }, `call of ${call.t} at window ${call.w} not heard: no speaker of zone ${call.zone} is online`);
        return;
      }
    }
    for (const s of mine) {
      // An offline speaker would not hear it; the zone does not wait for it.
      if (!this.isOnline(s.device.id)) continue;
      s.link.send({ leaf: 'announce', body });
      this.stats.sent++;
      // A speaker that reports its real end (a DFPlayer, from its own card) is waited for: the hub's length is a guess for it.
      const ends = modelOf(s.device).reportsEnd;
      waits.push(this.played(s.device, call.seq, (ends ? clips.length * ends.clipMs : durationMs) + v.playedTimeoutMs));
    }
    if (local && v.local && r) waits.push(this.playLocal(call.seq, r, v.local.device, durationMs + v.playedTimeoutMs));
    await Promise.all(waits);
    this.log.debug({ t: call.t, w: call.w, zone: call.zone, recall: call.recall, short, durationMs, outputs: waits.length }, 'call announced');
  }

  /** Until one of these speakers is online (true), or `ms` passed (false); woken by their `device.online`. */
  private someoneOnline(speakers: Speaker[], ms: number): Promise<boolean> {
    const check = () => speakers.some((s) => this.isOnline(s.device.id));
    return new Promise((done) => {
      const finish = () => {
        clearTimeout(giveUp);
        this.wakers.delete(wake);
        done(check());
      };
      const wake = () => {
        if (check() || this.stopped) finish();
      };
      const giveUp = setTimeout(finish, ms);
      this.wakers.add(wake);
    });
  }

  /** Until the speaker says it played this call, or the call's length plus the grace has passed. */
  private played(d: DeviceConfig, id: number, timeoutMs: number): Promise<void> {
    const key = `${d.id}/${id}`;
    return new Promise<void>((done) => {
      const timer = setTimeout(() => {
        this.stats.timedOut++;
        this.log.debug({ device: d.id, id }, 'speaker did not say played in time; next call');
        finish();
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(key);
        done();
      };
      this.waiters.set(key, () => {
        this.stats.played++;
        finish();
      });
    });
  }

  /** The Pi's own audio out: the whole call as one buffer, through aplay's input (nothing written to the SD card), to its end. */
  private playLocal(id: number, r: Rendered, device: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((done) => {
      const p = execFile('aplay', ['-q', '-D', device, '-'], { timeout: timeoutMs, encoding: 'utf8' }, (err, _out, stderr) => {
        if (err) {
          this.stats.localFailures++;
          const enoent = (err as NodeJS.ErrnoException).code === 'ENOENT';
          this.log.warn({ id, device, err: enoent ? APLAY_MISSING : (stderr || err.message).trim().split('\n')[0] }, 'local audio output failed');
        } else this.stats.localPlayed++;
        done();
      });
      // aplay that fails at once closes its input: the exit callback reports it.
      p.stdin?.on('error', () => {});
      p.stdin?.end(r.wav);
    });
  }
}
