/**
 * A business day written by hand, event by event, as the engine stores them:
 * Thursday 2026-10-29 in Cairo, an evening shift (opens 18:00, closes 23:00),
 * the night the clocks go back (Friday 00:00 EEST, UTC+3 → Thursday 23:00
 * EET, UTC+2): local 23:00–23:59 happens twice. Times below are local with
 * their offset. Expected figures are worked out in tests/reports.test.ts.
 */
import type { CenterConfig } from '../config/schema.js';
import type { EventBody, StoredEvent } from '../contract/queue.js';

export const DAY = '2026-10-29';

/** "18:02" (+03:00) or "23:05+02" → ms; "next:03:00+02" is the next date. */
export function at(t: string): number {
  const next = t.startsWith('next:');
  const s = next ? t.slice(5) : t;
  const [hm, off] = s.includes('+') ? (s.split('+') as [string, string]) : [s, '03'];
  return Date.parse(`${next ? '2026-10-30' : DAY}T${hm}:00+${off}:00`);
}

export function fixtureConfig(base: CenterConfig): CenterConfig {
  const c = structuredClone(base);
  c.center.day = { opens: '18:00', closes: '23:00', rollover: '03:00', leftovers: 'cancel' };
  c.center.timezone = 'Africa/Cairo';
  c.services = [
    { ...c.services[0]!, id: 'intake', prefix: 'A', priority: false, targetWaitMinutes: 10 },
    { ...c.services[1]!, id: 'treasury', prefix: 'B', priority: false, targetWaitMinutes: 15 },
  ];
  c.windows = [
    { number: 1, kind: 'intake', services: ['intake'], pick: 'order', zone: 'hall', name: { ar: 'شباك 1', en: 'Window 1' } },
    { number: 2, kind: 'intake', services: ['intake'], pick: 'order', zone: 'hall', name: { ar: 'شباك 2', en: 'Window 2' } },
    { number: 3, kind: 'treasury', services: ['treasury'], pick: 'order', zone: 'hall', name: { ar: 'شباك 3', en: 'Window 3' } },
  ];
  c.devices = [];
  return c;
}

/** The day's events, in seq order, as store.eventsOfDay(DAY) would return them. */
export function fixtureEvents(): StoredEvent[] {
  const out: StoredEvent[] = [];
  const tickets = new Map<string, { id: string; service: string; enq: number; called?: number; serving?: number }>();
  let order = 0;
  const push = (t: string, body: EventBody, source?: string) =>
    out.push({ ...body, v: 2, at: at(t), day: body.type === 'day.rolled' ? body.to : DAY, seq: out.length + 1, ...(source ? { source, ref: `${source}/c${out.length + 1}` } : {}) } as StoredEvent);
  const f = (num: string) => {
    const k = tickets.get(num)!;
    return { ticket: k.id, number: num, service: k.service };
  };
  const issue = (t: string, num: string, service = 'intake') => {
    const n = Number(num.slice(1));
    tickets.set(num, { id: `${DAY}/${service}/${n}`, service, enq: at(t) });
    push(t, { type: 'ticket.issued', ...f(num), n, device: 'disp-1', ahead: 0, expectedWaitMin: 0, order: ++order }, 'disp-1');
  };
  const call = (t: string, num: string, window: number) => {
    const k = tickets.get(num)!;
    k.called = at(t);
    k.serving = undefined;
    push(t, { type: 'ticket.called', ...f(num), window, how: 'next', waitMs: at(t) - k.enq }, `kp-${window}`);
  };
  const serving = (t: string, num: string, window: number) => {
    tickets.get(num)!.serving = at(t);
    push(t, { type: 'ticket.serving', ...f(num), window }, `kp-${window}`);
  };
  const done = (t: string, num: string, window: number) => {
    const k = tickets.get(num)!;
    push(t, { type: 'ticket.done', ...f(num), window, serviceMs: at(t) - (k.serving ?? k.called!) }, `kp-${window}`);
  };
  const transfer = (t: string, num: string, to: string, window?: number) => {
    const k = tickets.get(num)!;
    const from = k.service;
    k.service = to;
    k.enq = at(t);
    push(t, { type: 'ticket.transferred', ...f(num), ...(window ? { window } : {}), from, to, position: 'front', order: -1e12 + ++order }, window ? `kp-${window}` : 'backend');
  };
  const win = (t: string, type: 'window.opened' | 'window.closed', window: number) => push(t, { type, window }, `kp-${window}`);

  push('03:00', { type: 'day.rolled', from: '2026-10-28', to: DAY });
  win('18:00', 'window.opened', 1);
  win('18:00', 'window.opened', 2);
  win('18:00', 'window.opened', 3);
  issue('18:00', 'A001');
  issue('18:01', 'A002');
  call('18:02', 'A001', 1);
  serving('18:03', 'A001', 1);
  issue('18:04', 'A003');
  call('18:05', 'A002', 2);
  issue('18:06', 'A004');
  done('18:10', 'A001', 1);
  done('18:11', 'A002', 2);
  call('18:12', 'A003', 1);
  push('18:14', { type: 'ticket.noShow', ...f('A003'), window: 1 }, 'kp-1');
  call('18:15', 'A004', 1);
  serving('18:15', 'A004', 1);
  done('18:20', 'A004', 1);
  // A003 comes back within the grace time: returned to the front, called again later.
  push('18:20', { type: 'ticket.returned', ...f('A003'), position: 'front', order: -1e12 + ++order }, 'supervisor');
  transfer('18:21', 'A004', 'treasury'); // fees set by the backend after the intake visit
  call('18:25', 'A003', 2);
  serving('18:26', 'A003', 2);
  issue('18:30', 'A005');
  call('18:30', 'A004', 3);
  done('18:34', 'A004', 3);
  done('18:36', 'A003', 2);
  issue('18:40', 'A006');
  issue('18:41', 'A007');
  push('18:45', { type: 'ticket.cancelled', ...f('A006'), reason: 'left' }, 'supervisor');
  call('18:45', 'A007', 2);
  push('18:47', { type: 'ticket.noShow', ...f('A007'), window: 2 }, 'kp-2');
  push('18:48', { type: 'window.paused', window: 2, reason: 'prayer' }, 'kp-2');
  issue('18:49', 'A008');
  call('18:50', 'A005', 1);
  transfer('18:55', 'A005', 'treasury', 1); // sent to the treasury from window 1
  call('18:56', 'A008', 1);
  serving('18:57', 'A008', 1);
  call('19:00', 'A005', 3);
  serving('19:01', 'A005', 3);
  done('19:05', 'A008', 1);
  win('19:08', 'window.opened', 2);
  win('19:10', 'window.closed', 1);
  done('19:13', 'A005', 3);
  issue('22:50', 'A009');
  call('22:52', 'A009', 2);
  done('23:00', 'A009', 2);
  issue('23:50', 'A010'); // 23:50 EEST …
  call('23:05+02', 'A010', 2); // … called at 23:05 EET: 15 minutes later
  done('23:15+02', 'A010', 2);
  issue('23:20+02', 'A011');
  call('23:30+02', 'A011', 2);
  done('23:40+02', 'A011', 2);
  win('23:45+02', 'window.closed', 3);
  win('23:50+02', 'window.closed', 2);
  issue('23:55+02', 'A012');
  // The rollover at 03:00 (EET) cancels what still waits; no source: the hub did it.
  push('next:03:00+02', { type: 'ticket.cancelled', ...f('A012'), reason: 'day ended' });
  return out;
}
