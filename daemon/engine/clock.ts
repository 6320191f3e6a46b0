/**
 * Wall-clock arithmetic in the center's time zone. Pure functions of an
 * instant (ms since the epoch); nothing here reads the system clock.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone: tz,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(tz, f);
  }
  return f;
}

export interface LocalTime {
  date: string; // YYYY-MM-DD
  hour: number;
  minute: number;
}

/** The last minute asked for, per zone: every command asks for the business day, mostly within the same minute. */
const lastMinute = new Map<string, { minute: number; local: LocalTime }>();

export function localTime(at: number, tz: string): LocalTime {
  // Zone offsets in use are whole minutes, so the local minute is the same for every instant of a UTC minute.
  const minute = Math.floor(at / 60_000);
  const hit = lastMinute.get(tz);
  if (hit && hit.minute === minute) return { ...hit.local };
  const parts: Record<string, string> = {};
  for (const p of formatter(tz).formatToParts(at)) parts[p.type] = p.value;
  const local = { date: `${parts.year}-${parts.month}-${parts.day}`, hour: Number(parts.hour), minute: Number(parts.minute) };
  lastMinute.set(tz, { minute, local });
  return { ...local };
}

export function addDays(date: string, n: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/**
 * The business day an instant belongs to: the local date, or the day before
 * when the local time is earlier than the rollover time ("03:00" means the
 * night's 00:00–02:59 still belongs to yesterday). Comparing local wall-clock
 * times makes this correct across daylight-saving changes.
 */
export function businessDay(at: number, tz: string, rollover: string): string {
  const t = localTime(at, tz);
  const [rh, rm] = rollover.split(':').map(Number) as [number, number];
  return t.hour * 60 + t.minute < rh * 60 + rm ? addDays(t.date, -1) : t.date;
}

/** Local hour 0–23, for figures per hour. */
export function localHour(at: number, tz: string): number {
  return localTime(at, tz).hour;
}
