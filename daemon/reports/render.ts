/**
 * A report as tables (one definition), then as CSV (UTF-8 with a BOM, CRLF,
 * one file in sections) or as one printable HTML page (A4, right-to-left in
 * Arabic, bar charts drawn here as SVG; no scripts, fonts or links outside
 * the page). Both show the same cells, so the spreadsheet and the printed
 * copy never disagree. Times are minutes with one decimal; shares percent.
 */
import { localTime } from '../engine/clock.js';
import { hourLabel, type Report, type ServiceRow, type Stats } from './summary.js';

export type Lang = 'ar' | 'en';

const L = {
  en: {
    dayReport: 'Daily report',
    weekReport: 'Weekly report',
    periodReport: 'Report',
    timezone: 'Time zone',
    generated: 'Generated',
    missing: 'Days without figures',
    running: 'Still open, figures up to the time of the report',
    services: 'Services: counts',
    serviceTimes: 'Services: waiting and service times (minutes)',
    windows: 'Windows',
    pauses: 'Pauses by reason',
    hours: 'By hour',
    bottlenecks: 'Bottlenecks: where the queue grew fastest',
    unavailable: 'Windows closed or paused while citizens waited (opening hours)',
    bySource: 'Cancellations by who cancelled',
    byReason: 'Cancellations by reason',
    transfers: 'Transfers',
    chartWait: 'Average wait by hour (minutes), by the hour the wait began',
    chartFlow: 'Tickets issued and served per hour',
    service: 'Service',
    target: 'Target wait (min)',
    issued: 'Issued',
    transfersIn: 'Transferred in',
    called: 'Called',
    withinTarget: 'Called within target',
    serviceLevel: 'Service level %',
    served: 'Served',
    noShows: 'No-shows',
    noShowsReturned: 'No-shows returned',
    cancelledStaff: 'Cancelled by staff',
    cancelledDayEnd: "Cancelled at the day's close",
    closedAtDayEnd: "Visits closed at the day's close",
    transfersOut: 'Transferred out',
    maxQueue: 'Longest queue',
    waitAvg: 'Wait avg',
    waitMedian: 'Wait median',
    waitP90: 'Wait P90',
    waitMax: 'Wait max',
    svcAvg: 'Service avg',
    svcMedian: 'Service median',
    svcP90: 'Service P90',
    svcMax: 'Service max',
    window: 'Window',
    openMin: 'Open (min)',
    busyMin: 'Busy (min)',
    idleMin: 'Idle (min)',
    pausedMin: 'Paused (min)',
    utilisation: 'Utilisation %',
    unavailableMin: 'Closed/paused while citizens waited (min)',
    reason: 'Reason',
    minutes: 'Minutes',
    hour: 'Hour',
    growth: 'Queue growth',
    avgWait: 'Avg wait (min)',
    state: 'State',
    from: 'From',
    to: 'To',
    maxWaiting: 'Most waiting',
    who: 'Who',
    count: 'Count',
    fromService: 'From',
    toService: 'To',
    closed: 'closed',
    hub: "the hub (day's close)",
    total: 'All services',
    windowN: (n: number) => `Window ${n}`,
    defs: 'Wait = last call − joining the queue (issue, or transfer into the service); service time = done − start of service (or the call); service level = share called within the service’s target; median and P90 by nearest rank; utilisation = busy ÷ open time. Definitions: docs/REPORTS.md.',
  },
  ar: {
    dayReport: 'التقرير اليومي',
    weekReport: 'التقرير الأسبوعي',
    periodReport: 'تقرير',
    timezone: 'المنطقة الزمنية',
    generated: 'تاريخ الإعداد',
    missing: 'أيام بلا بيانات',
    running: 'يوم لم ينته بعد، البيانات حتى وقت التقرير',
    services: 'الخدمات: الأعداد',
    serviceTimes: 'الخدمات: زمن الانتظار وزمن الخدمة (بالدقائق)',
    windows: 'الشبابيك',
    pauses: 'التوقفات حسب السبب',
    hours: 'حسب الساعة',
    bottlenecks: 'الاختناقات: حيث زاد الطابور أسرع',
    unavailable: 'شبابيك مغلقة أو متوقفة والمواطنون ينتظرون (في ساعات العمل)',
    bySource: 'الإلغاءات حسب من ألغى',
    byReason: 'الإلغاءات حسب السبب',
    transfers: 'التحويلات',
    chartWait: 'متوسط الانتظار حسب الساعة (بالدقائق)، حسب ساعة بدء الانتظار',
    chartFlow: 'التذاكر المصدرة والمخدومة في كل ساعة',
    service: 'الخدمة',
    target: 'الانتظار المستهدف (دقيقة)',
    issued: 'صدرت',
    transfersIn: 'محولة إليها',
    called: 'نوديت',
    withinTarget: 'نوديت في الوقت المستهدف',
    serviceLevel: 'مستوى الخدمة %',
    served: 'خدمت',
    noShows: 'لم يحضر',
    noShowsReturned: 'أعيد للطابور بعد عدم الحضور',
    cancelledStaff: 'ألغاها الموظفون',
    cancelledDayEnd: 'ألغيت بنهاية اليوم',
    closedAtDayEnd: 'زيارات أغلقت بنهاية اليوم',
    transfersOut: 'محولة منها',
    maxQueue: 'أطول طابور',
    waitAvg: 'متوسط الانتظار',
    waitMedian: 'وسيط الانتظار',
    waitP90: 'الانتظار P90',
    waitMax: 'أقصى انتظار',
    svcAvg: 'متوسط الخدمة',
    svcMedian: 'وسيط الخدمة',
    svcP90: 'الخدمة P90',
    svcMax: 'أقصى خدمة',
    window: 'الشباك',
    openMin: 'مفتوح (دقيقة)',
    busyMin: 'مشغول (دقيقة)',
    idleMin: 'خامل (دقيقة)',
    pausedMin: 'متوقف (دقيقة)',
    utilisation: 'نسبة الإشغال %',
    unavailableMin: 'مغلق أو متوقف والمواطنون ينتظرون (دقيقة)',
    reason: 'السبب',
    minutes: 'دقائق',
    hour: 'الساعة',
    growth: 'نمو الطابور',
    avgWait: 'متوسط الانتظار (دقيقة)',
    state: 'الحالة',
    from: 'من',
    to: 'إلى',
    maxWaiting: 'أكثر عدد منتظر',
    who: 'من ألغى',
    count: 'العدد',
    fromService: 'من',
    toService: 'إلى',
    closed: 'مغلق',
    hub: 'النظام (نهاية اليوم)',
    total: 'كل الخدمات',
    windowN: (n: number) => `شباك ${n}`,
    defs: 'الانتظار = آخر نداء − دخول الطابور (الإصدار أو التحويل إلى الخدمة)؛ زمن الخدمة = الانتهاء − بدء الخدمة (أو النداء)؛ مستوى الخدمة = نسبة من نودي عليهم في الوقت المستهدف للخدمة؛ الوسيط و P90 بطريقة أقرب رتبة؛ نسبة الإشغال = زمن الانشغال ÷ زمن الفتح. التعريفات: docs/REPORTS.md.',
  },
} as const;

export interface Table {
  id: string;
  title: string;
  head: string[];
  rows: { key: string; cells: string[] }[];
}

const min1 = (sec: number | null): string => (sec === null ? '' : (sec / 60).toFixed(1));
const msMin = (ms: number): string => (ms / 60_000).toFixed(1);
const pct = (x: number | null): string => (x === null ? '' : (x * 100).toFixed(1));
const n = (x: number): string => String(x);

function name(names: { ar: string; en?: string | undefined } | undefined, lang: Lang, fallback: string): string {
  if (!names) return fallback;
  return lang === 'en' ? (names.en ?? names.ar) : names.ar;
}

function clockText(at: number, tz: string, withDate: boolean): string {
  const t = localTime(at, tz);
  const hm = `${String(t.hour).padStart(2, '0')}:${String(t.minute).padStart(2, '0')}`;
  return withDate ? `${t.date} ${hm}` : hm;
}

/** The report's tables, in the order both outputs show them. */
export function tables(r: Report, lang: Lang): Table[] {
  const t = L[lang];
  const svcName = (id: string) => (id === '*' ? t.total : name(r.services.find((s) => s.id === id)?.name, lang, id));
  const winName = (w: number) => name(r.windows.find((x) => x.number === w)?.name, lang, t.windowN(w));
  const multi = r.days.length > 1;
  const counts = (s: ServiceRow) => [
    svcName(s.id),
    s.id === '*' ? '' : n(s.target),
    n(s.issued),
    n(s.transfersIn),
    n(s.called),
    n(s.withinTarget),
    pct(s.serviceLevel),
    n(s.served),
    n(s.noShows),
    n(s.noShowsReturned),
    n(s.cancelledStaff),
    n(s.cancelledDayEnd),
    n(s.closedAtDayEnd),
    n(s.transfersOut),
    n(s.maxQueue),
  ];
  const times = (s: ServiceRow) => [svcName(s.id), ...statCells(s.wait), ...statCells(s.service)];
  const out: Table[] = [
    {
      id: 'services',
      title: t.services,
      head: [t.service, t.target, t.issued, t.transfersIn, t.called, t.withinTarget, t.serviceLevel, t.served, t.noShows, t.noShowsReturned, t.cancelledStaff, t.cancelledDayEnd, t.closedAtDayEnd, t.transfersOut, t.maxQueue],
      rows: [...r.services.map((s) => ({ key: s.id, cells: counts(s) })), { key: '*', cells: counts(r.total) }],
    },
    {
      id: 'service-times',
      title: t.serviceTimes,
      head: [t.service, t.waitAvg, t.waitMedian, t.waitP90, t.waitMax, t.svcAvg, t.svcMedian, t.svcP90, t.svcMax],
      rows: [...r.services.map((s) => ({ key: s.id, cells: times(s) })), { key: '*', cells: times(r.total) }],
    },
    {
      id: 'windows',
      title: t.windows,
      head: [t.window, t.called, t.served, t.noShows, t.transfersOut, t.openMin, t.busyMin, t.idleMin, t.pausedMin, t.utilisation, t.svcAvg, t.svcMedian, t.svcP90, t.unavailableMin],
      rows: r.windows.map((w) => ({
        key: String(w.number),
        cells: [
          winName(w.number),
          n(w.called),
          n(w.served),
          n(w.noShows),
          n(w.transfersOut),
          msMin(w.openMs),
          msMin(w.busyMs),
          msMin(w.idleMs),
          msMin(w.pausedMs),
          pct(w.utilisation),
          min1(w.service.avg),
          min1(w.service.median),
          min1(w.service.p90),
          msMin(w.unavailableMs),
        ],
      })),
    },
    {
      id: 'pauses',
      title: t.pauses,
      head: [t.window, t.reason, t.minutes],
      rows: r.windows.flatMap((w) =>
        Object.entries(w.pauses)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([reason, ms]) => ({ key: `${w.number}/${reason}`, cells: [winName(w.number), reason, msMin(ms)] })),
      ),
    },
    {
      id: 'hours',
      title: t.hours,
      head: [t.hour, t.issued, t.called, t.served, t.noShows, t.growth, t.maxQueue, t.avgWait],
      rows: r.hours.map((h) => ({ key: h.key, cells: [hourLabel(h), n(h.issued), n(h.called), n(h.served), n(h.noShows), n(h.growth), n(h.maxQueue), min1(h.avgWait)] })),
    },
    {
      id: 'bottlenecks',
      title: t.bottlenecks,
      head: [t.service, t.hour, t.issued, t.called, t.growth, t.maxQueue],
      rows: r.bottlenecks.map((b) => ({ key: `${b.service}/${b.hour}`, cells: [svcName(b.service), b.hour, n(b.issued), n(b.called), n(b.growth), n(b.maxQueue)] })),
    },
    {
      id: 'unavailable',
      title: t.unavailable,
      head: [t.window, t.state, t.from, t.to, t.minutes, t.maxWaiting],
      rows: r.unavailable.map((e) => ({
        key: `${e.window}/${e.from}`,
        cells: [winName(e.window), e.state === 'closed' ? t.closed : e.state, clockText(e.from, r.timezone, multi), clockText(e.to, r.timezone, multi), msMin(e.to - e.from), n(e.maxWaiting)],
      })),
    },
    {
      id: 'cancelled-by',
      title: t.bySource,
      head: [t.who, t.count],
      rows: Object.entries(r.cancelledBySource)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([who, c]) => ({ key: who, cells: [who === 'hub' ? t.hub : who, n(c)] })),
    },
    {
      id: 'cancelled-why',
      title: t.byReason,
      head: [t.reason, t.count],
      rows: Object.entries(r.cancelledByReason)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([why, c]) => ({ key: why, cells: [why, n(c)] })),
    },
    {
      id: 'transfers',
      title: t.transfers,
      head: [t.fromService, t.toService, t.count],
      rows: r.transfers.map((x) => ({ key: `${x.from}>${x.to}`, cells: [svcName(x.from), svcName(x.to), n(x.n)] })),
    },
  ];
  return out;
}

function statCells(s: Stats): string[] {
  return [min1(s.avg), min1(s.median), min1(s.p90), min1(s.max)];
}

function title(r: Report, lang: Lang): string {
  const t = L[lang];
  const what = r.kind === 'day' ? t.dayReport : r.kind === 'week' ? t.weekReport : t.periodReport;
  return r.kind === 'day' ? `${what} ${r.period}` : `${what} ${r.period} (${r.first} – ${r.last})`;
}

const csvCell = (v: string): string => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** One CSV file in sections (a title line, a header line, the rows, a blank line), UTF-8 with a BOM so Excel reads Arabic. */
export function toCsv(r: Report, lang: Lang, o: { generatedAt: number }): string {
  const t = L[lang];
  const lines: string[][] = [[name(r.center, lang, '')], [title(r, lang)], [t.timezone, r.timezone], [t.generated, clockText(o.generatedAt, r.timezone, true)]];
  if (r.missing.length) lines.push([t.missing, r.missing.join(' ')]);
  if (r.running.length) lines.push([t.running, r.running.join(' ')]);
  lines.push([]);
  for (const tb of tables(r, lang)) {
    lines.push([tb.title], tb.head, ...tb.rows.map((x) => x.cells), []);
  }
  return '\ufeff' + lines.map((l) => l.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface Series {
  name: string;
  values: (number | null)[];
  color: string;
}

/** Grouped bars with a y scale of round steps; text in the page's language, hours left to right. */
export function barChart(o: { id: string; labels: string[]; series: Series[]; width?: number; height?: number; unit?: string }): string {
  const W = o.width ?? 700;
  const H = o.height ?? 230;
  const left = 44;
  const right = 10;
  const top = 26;
  const bottom = 56;
  const max = Math.max(0, ...o.series.flatMap((s) => s.values.map((v) => v ?? 0)));
  const step = niceStep(max / 4);
  const yMax = Math.max(step * 4, step);
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const groupW = plotW / Math.max(1, o.labels.length);
  const barW = Math.max(2, (groupW * 0.8) / o.series.length);
  const y = (v: number) => top + plotH - (v / yMax) * plotH;
  const parts: string[] = [];
  for (let k = 0; k <= 4; k++) {
    const v = step * k;
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`);
    parts.push(`<text x="${left - 4}" y="${(y(v) + 3).toFixed(1)}" text-anchor="end" class="tick">${fmtTick(v)}</text>`);
  }
  o.labels.forEach((label, i) => {
    const gx = left + i * groupW + groupW * 0.1;
    o.series.forEach((s, j) => {
      const v = s.values[i];
      if (v === null || v === undefined) return;
      const h = (v / yMax) * plotH;
      parts.push(`<rect class="bar" x="${(gx + j * barW).toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${s.color}"><title>${esc(`${label} ${s.name}: ${fmtTick(v)}`)}</title></rect>`);
    });
    const lx = left + i * groupW + groupW / 2;
    parts.push(`<text x="${lx.toFixed(1)}" y="${H - bottom + 14}" text-anchor="end" transform="rotate(-45 ${lx.toFixed(1)} ${H - bottom + 14})" class="tick">${esc(label)}</text>`);
  });
  const legend = o.series
    .map((s, j) => `<rect x="${left + j * 150}" y="6" width="10" height="10" fill="${s.color}"/><text x="${left + j * 150 + 14}" y="15" class="tick">${esc(s.name)}</text>`)
    .join('');
  return `<svg id="${o.id}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="100%" direction="ltr" role="img">${legend}${parts.join('')}</svg>`;
}

function niceStep(raw: number): number {
  if (raw <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

const fmtTick = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(1));

const CSS = `
body{font-family:"Noto Naskh Arabic","Noto Sans Arabic","DejaVu Sans",Arial,sans-serif;font-size:10pt;margin:16px;color:#111}
h1{font-size:15pt;margin:0 0 4px}h2{font-size:11.5pt;margin:14px 0 4px;border-bottom:1px solid #999}
.meta{color:#444;margin:0 0 8px}.kpis{display:flex;gap:8px;flex-wrap:wrap;margin:8px 0}
.kpi{border:1px solid #bbb;padding:4px 8px;min-width:90px}.kpi b{display:block;font-size:13pt}
table{border-collapse:collapse;width:100%;margin:2px 0 6px}th,td{border:1px solid #bbb;padding:2px 4px;text-align:center;font-variant-numeric:tabular-nums}
th{background:#eee;font-weight:600}td:first-child,th:first-child{text-align:start}
figure{margin:6px 0;break-inside:avoid}figcaption{font-weight:600;margin-bottom:2px}
svg .grid{stroke:#ddd;stroke-width:1}svg .tick{font-size:10px;fill:#333;font-family:"DejaVu Sans",Arial,sans-serif}
.note{color:#444;font-size:8.5pt}.warn{color:#8a4b00}
@page{size:A4 portrait;margin:12mm}
@media print{body{margin:0;font-size:8pt}h1{font-size:13pt}h2{font-size:10pt}th,td{padding:1px 2px}tr,figure,.kpis{break-inside:avoid}section{break-inside:auto}}
`;

/** Numbers, times and offsets: laid out left to right even in an Arabic table ("-1", not "1-"). */
const LTR = /^[-+\d.:() UTC]+$/;

/** The printable page: dir="rtl" lang="ar" in Arabic; charts as inline SVG; nothing loaded from elsewhere. */
export function toHtml(r: Report, lang: Lang, o: { generatedAt: number }): string {
  const t = L[lang];
  const tbs = tables(r, lang);
  const kpi = (label: string, v: string) => `<div class="kpi">${esc(label)}<b>${esc(v)}</b></div>`;
  // Short labels under the bars: "23:00 +03" for an hour that happens twice.
  const labels = r.hours.map((h) => hourLabel(h).replace(/ \(UTC([+-]\d+)\)/, ' $1'));
  const charts = [
    `<figure><figcaption>${esc(t.chartWait)}</figcaption>${barChart({ id: 'chart-wait', labels, series: [{ name: t.avgWait, values: r.hours.map((h) => (h.avgWait === null ? null : Math.round(h.avgWait / 6) / 10)), color: '#c0504d' }] })}</figure>`,
    `<figure><figcaption>${esc(t.chartFlow)}</figcaption>${barChart({
      id: 'chart-flow',
      labels,
      series: [
        { name: t.issued, values: r.hours.map((h) => h.issued), color: '#4f81bd' },
        { name: t.served, values: r.hours.map((h) => h.served), color: '#9bbb59' },
      ],
    })}</figure>`,
  ];
  const table = (tb: (typeof tbs)[number]) =>
    `<section><h2>${esc(tb.title)}</h2><table id="${tb.id}"><thead><tr>${tb.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${tb.rows
      .map((x) => `<tr data-key="${esc(x.key)}">${x.cells.map((c) => (LTR.test(c) ? `<td dir="ltr">${esc(c)}</td>` : `<td>${esc(c)}</td>`)).join('')}</tr>`)
      .join('')}</tbody></table></section>`;
  // Dates and weeks keep their order inside Arabic text ("2026-10-29", not "29-10-2026").
  const ltr = (s: string) => esc(s).replace(/\d{4}-(?:W\d{2}|\d{2}-\d{2}(?: \d{2}:\d{2})?)/g, '<span dir="ltr">$&</span>');
  const body = [
    `<header><h1>${esc(name(r.center, lang, ''))}</h1><p class="meta">${ltr(title(r, lang))} · ${esc(t.timezone)}: ${esc(r.timezone)} · ${esc(t.generated)}: ${ltr(clockText(o.generatedAt, r.timezone, true))}</p>`,
    r.missing.length ? `<p class="warn">${esc(t.missing)}: ${ltr(r.missing.join(' '))}</p>` : '',
    r.running.length ? `<p class="warn">${esc(t.running)}: ${ltr(r.running.join(' '))}</p>` : '',
    `</header>`,
    `<div class="kpis">${kpi(t.issued, String(r.total.issued))}${kpi(t.served, String(r.total.served))}${kpi(t.waitAvg, min1(r.total.wait.avg))}${kpi(t.waitP90, min1(r.total.wait.p90))}${kpi(t.serviceLevel, pct(r.total.serviceLevel))}${kpi(t.noShows, String(r.total.noShows))}</div>`,
    ...tbs.slice(0, 4).map(table),
    ...charts,
    ...tbs.slice(4).map(table),
    `<p class="note">${esc(t.defs)}</p>`,
  ].join('\n');
  return `<!doctype html>\n<html lang="${lang}" dir="${lang === 'ar' ? 'rtl' : 'ltr'}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${esc(title(r, lang))}</title><style>${CSS}</style></head><body>\n${body}\n</body></html>\n`;
}
