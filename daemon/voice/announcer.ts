/**
 * The announcer: every committed call or recall is announced by the
 * speakers of its hall zone (or of its window), in their languages. It is
 * fed by committed events on the bus, never by a device request, so a call
 * is announced only once it is on disk. The voice issue grows this into
 * clip sequences, pacing and one queue per zone.
 *
 * Owns: nothing durable. May touch: the bus (listens), the device links.
 */
import type { Logger } from 'pino';
import type { CenterConfig, DeviceConfig } from '../../config/schema.js';
import { modelOf } from '../../devices/index.js';
import type { DeviceLink } from '../devices/link.js';
import { PROTOCOL_VERSION } from '../devices/protocol.js';
import { callOf, zonesOf, type Call } from '../devices/views.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';
import { composeCall, type ClipRef } from './words.js';

/** The words of a call, per language. */
export function announcement(call: Call, languages: readonly ('ar' | 'en')[]): Record<string, unknown> {
  const spaced = call.t.replace(/^([A-Z]+)(\d+)$/, '$1 $2');
  const text: Record<string, string> = {};
  if (languages.includes('ar')) text.ar = `المواطن رقم ${spaced}، يرجى التوجه إلى الشباك رقم ${call.w}`;
  if (languages.includes('en')) text.en = `Number ${spaced}, please go to window ${call.w}`;
  // The clips to play, in order (docs/VOICE.md); a number the pack cannot read leaves the text to say it.
  let clips: ClipRef[] = [];
  const lang = languages.length > 1 ? 'both' : (languages[0] ?? 'ar');
  try {
    clips = composeCall({ t: call.t, w: call.w, lang, ...(call.inquiry ? { inquiry: true } : {}) }).clips;
  } catch {
    clips = [];
  }
  // `id` is the call's sequence number, the same number (and type) as a board's `flash.seq`.
  return { v: PROTOCOL_VERSION, id: call.seq, t: call.t, w: call.w, zone: call.zone, recall: call.recall, lang: languages, text, clips };
}

export class Announcer implements HubModule {
  readonly name = 'announcer';
  private readonly config: CenterConfig;
  private readonly log: Logger;
  private speakers: { device: DeviceConfig; link: DeviceLink; languages: ('ar' | 'en')[] }[] = [];
  private unsubscribe?: () => void;
  private announced = 0;

  constructor(private readonly ctx: HubContext) {
    this.config = ctx.config;
    this.log = ctx.log.child({ mod: 'announcer' });
  }

  start(): void {
    const zoneOf = zonesOf(this.config);
    this.speakers = this.config.devices
      .filter((d) => d.enabled && modelOf(d).accepts.includes('announce'))
      .map((device) => ({
        device,
        link: this.ctx.links.link(device),
        languages: (modelOf(device).languages ?? ['ar']).filter((l) => this.config.center.languages.includes(l)),
      }));
    this.unsubscribe = this.ctx.bus.on('committed', this.name, ({ events }) => {
      for (const e of events) {
        const call = callOf(e, zoneOf);
        if (call) this.announce(call);
      }
    });
  }

  private announce(call: Call): void {
    for (const s of this.speakers) {
      const b = s.device.bind;
      if (b.zone !== undefined ? b.zone !== call.zone : b.window !== call.w) continue;
      s.link.send('announce', announcement(call, s.languages));
      this.announced++;
    }
    this.log.debug({ t: call.t, w: call.w, zone: call.zone, recall: call.recall }, 'call announced');
  }

  health(): ModuleHealth {
    return { ok: true, detail: { speakers: this.speakers.length, announced: this.announced } };
  }

  stop(): void {
    this.unsubscribe?.();
  }
}
