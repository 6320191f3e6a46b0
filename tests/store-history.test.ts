/**
 * What a restart reads of a long event log: the devices' last arrival,
 * departure, model and firmware of earlier days (`latestPerDevice`), and the
 * day's calls and departures (`eventsOfDay` with types). Each must give what
 * reading the whole log gives, on a real SQLite store.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { QueueEvent, StoredEvent } from '../contract/queue.js';
import { Store } from '../daemon/store/store.js';

const DAYS = ['2026-11-28', '2026-11-29', '2026-11-30', '2026-12-01'];
const TODAY = DAYS[DAYS.length - 1]!;
const DEVICES = ['kp-1', 'kp-2', 'wd-1', 'board-1'];

/** A month's presence in small: each device comes and goes a few times a day; some arrivals carry no model or firmware. */
function history(): QueueEvent[] {
  const out: QueueEvent[] = [];
  let at = Date.parse('2026-11-28T06:00:00Z');
  let k = 0;
  for (const day of DAYS) {
    out.push({ v: 2, at, day, type: 'day.rolled', from: '', to: day } as unknown as QueueEvent);
    for (let round = 0; round < 3; round++)
      for (const device of DEVICES) {
        k++;
        // board-1 left for good on the second day: its last departure is older than the others'.
        if (device === 'board-1' && day > DAYS[1]!) continue;
        const online: Record<string, unknown> = { v: 2, at: (at += 1000), day, type: 'device.online', device, kind: device.split('-')[0] };
        if (k % 3 !== 0) online.model = `model-${k}`;
        if (k % 4 !== 0) online.fw = `fw-${k}`;
        out.push(online as unknown as QueueEvent);
        out.push({ v: 2, at: (at += 1000), day, type: 'ticket.called', number: `A${k}`, window: 1, ticket: `t${k}` } as unknown as QueueEvent);
        // kp-2 stays online at the end of each day; the others leave, with a reason every other time.
        if (device === 'kp-2' && round === 2) continue;
        out.push({ v: 2, at: (at += 1000), day, type: 'device.offline', device, ...(k % 2 ? { why: `why-${k}` } : {}) } as unknown as QueueEvent);
      }
    at += 86_400_000;
  }
  return out;
}

/** What the health module keeps of a device's presence before today. */
function fold(events: StoredEvent[]): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const e of events) {
    if (e.type !== 'device.online' && e.type !== 'device.offline') continue;
    const r = (out[e.device] ??= {});
    r.state = e.type === 'device.online' ? 'on' : 'off';
    if (e.type === 'device.online') {
      r.lastOnlineAt = e.at;
      if (e.model) r.model = e.model;
      if (e.fw) r.fw = e.fw;
    } else {
      r.lastOfflineAt = e.at;
      if (e.why) r.why = e.why;
      else delete r.why;
    }
  }
  return out;
}

describe('store: what a restart reads of a long log', () => {
  const store = new Store(join(mkdtempSync(join(tmpdir(), 'qhub-history-')), 'qhub.db'));
  store.open();
  const all = store.append(history());
  const earlier = all.filter((e) => e.day !== TODAY);

  it("each device's latest arrival, departure, model and firmware of earlier days: the same as folding every earlier event", () => {
    const picked = store.latestPerDevice(['device.online', 'device.offline'], TODAY, ['model', 'fw']);
    expect(picked.length).toBeLessThan(earlier.filter((e) => e.type.startsWith('device.')).length / 3);
    expect(picked.map((e) => e.seq)).toEqual([...picked.map((e) => e.seq)].sort((a, b) => a - b));
    expect(fold(picked)).toEqual(fold(earlier));
    // The fixture has what makes the extra fields matter: a latest arrival without a model or firmware.
    const lastOnline = (d: string) => earlier.filter((e) => e.type === 'device.online' && e.device === d).at(-1) as { model?: string; fw?: string };
    expect(DEVICES.some((d) => !lastOnline(d).model) && DEVICES.some((d) => !lastOnline(d).fw)).toBe(true);
    expect(fold(store.latestPerDevice(['device.online', 'device.offline'], TODAY))).not.toEqual(fold(earlier));
  });

  it("the day's events of some types: those of the whole day, in order", () => {
    const types = ['day.rolled', 'ticket.called', 'device.offline'];
    expect(store.eventsOfDay(TODAY, types)).toEqual(all.filter((e) => e.day === TODAY && types.includes(e.type)));
    expect(store.eventsOfDay(TODAY, [])).toEqual([]);
    expect(store.eventsOfDay(TODAY)).toEqual(all.filter((e) => e.day === TODAY));
  });
});
