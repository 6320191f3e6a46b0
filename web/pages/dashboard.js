// The supervisor dashboard: queues, windows, devices, open alerts and today's figures, live
// (the hub's event feed, GET /api/v1/events, says what changed; the page reads it again); actions through the API.
import { useEffect, useRef, useState } from 'preact/hooks';
import { boot, html, mount, digits, getLang, nameIn } from '../lib/boot.js';
import { me, read, act } from '../lib/api.js';
import { Bar } from '../lib/chrome.js';
import { t } from '../lib/i18n.js';

/** Seconds as minutes with one decimal, as the reports show them. */
const mins = (s, lang) => (s === null || s === undefined ? '—' : digits((s / 60).toFixed(1), lang));
const pct = (x, lang) => (x === null || x === undefined ? '—' : `${digits(Math.round(x * 100), lang)}${lang === 'ar' ? '٪' : '%'}`);

/** The mean wait of each hour's arrivals, as bars (SVG drawn here, no library); time runs in the reading direction. */
function WaitsChart({ hours, lang }) {
  const W = 720;
  const H = 200;
  const pad = { top: 24, bottom: 34, side: 48 };
  if (!hours.length) return html`<p class="muted" id="waits-empty">${t('noFigures')}</p>`;
  const rtl = lang === 'ar';
  const values = hours.map((h) => (h.avgWaitS === null ? 0 : h.avgWaitS / 60));
  const top = Math.max(1, Math.ceil(Math.max(...values)));
  const slot = (W - 2 * pad.side) / hours.length;
  const bw = Math.max(4, Math.min(48, slot * 0.7));
  const y = (v) => H - pad.bottom - (v / top) * (H - pad.top - pad.bottom);
  const x = (i) => {
    const left = pad.side + i * slot + (slot - bw) / 2;
    return rtl ? W - left - bw : left;
  };
  const ticks = [0, top / 2, top];
  return html`<svg id="waits-chart" viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${t('waitsByHour')} preserveAspectRatio="xMidYMid meet">
    ${ticks.map((v) => html`<g><line x1=${pad.side} x2=${W - pad.side} y1=${y(v)} y2=${y(v)} class="grid-line" />
      <text x=${rtl ? W - pad.side + 4 : pad.side - 4} y=${y(v) + 4} text-anchor=${rtl ? 'start' : 'end'} class="axis">${digits(Number.isInteger(v) ? v : v.toFixed(1), lang)}</text></g>`)}
    ${hours.map((h, i) => html`<g class="bar-h" data-hour=${h.hour}>
      <title>${`${h.label}: ${t('avgWait')} ${mins(h.avgWaitS, lang)} · ${t('calledN')} ${digits(h.called, lang)}`}</title>
      <rect x=${x(i)} y=${Math.min(y(values[i]), H - pad.bottom - 2)} width=${bw} height=${Math.max(2, H - pad.bottom - y(values[i]))} class=${h.avgWaitS === null ? 'bar empty' : 'bar'} rx="2" />
      ${h.avgWaitS !== null && html`<text x=${x(i) + bw / 2} y=${y(values[i]) - 5} text-anchor="middle" class="val">${mins(h.avgWaitS, lang)}</text>`}
      <text x=${x(i) + bw / 2} y=${H - pad.bottom + 16} text-anchor="middle" class="axis">${digits(h.hour, lang)}</text>
    </g>`)}
    <text x=${W / 2} y=${H - 4} text-anchor="middle" class="axis">${t('hourAxis')}</text>
  </svg>`;
}

/** An instant as the center's clock shows it (HH:MM in its time zone). */
function clock(iso, lang) {
  try {
    return digits(new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false, timeZone: boot.timezone || undefined }).format(new Date(iso)), lang);
  } catch {
    return iso.slice(11, 16);
  }
}

function Dashboard() {
  const [, redraw] = useState(0);
  const [user, setUser] = useState(null);
  const [data, setData] = useState({ queues: [], windows: [], devices: [], status: null, today: null });
  const [alerts, setAlerts] = useState([]);
  const [msg, setMsg] = useState({ text: '', bad: false });
  const [lost, setLost] = useState(false);
  const lang = getLang();
  const canAct = user && user.role === 'supervisor';
  const reading = useRef({ busy: false, again: false });

  async function load() {
    const [queues, windows, devices, status, today] = await Promise.all([
      read('queues'),
      read('windows'),
      read('devices'),
      read('status'),
      read('today').catch(() => null),
    ]);
    setData({ queues, windows, devices, status, today });
  }
  /** One read at a time; a change during a read makes one more read after it. */
  async function refresh() {
    const r = reading.current;
    if (r.busy) {
      r.again = true;
      return;
    }
    r.busy = true;
    try {
      do {
        r.again = false;
        await load();
      } while (r.again);
    } finally {
      r.busy = false;
    }
  }
  useEffect(() => {
    me().then(setUser).catch(() => {});
    read('alerts').then(setAlerts).catch(() => {});
    refresh().catch(() => setLost(true));
    const feed = new EventSource('/api/v1/events');
    feed.addEventListener('open', () => {
      setLost(false);
      refresh().catch(() => {});
    });
    feed.addEventListener('error', () => setLost(true));
    feed.addEventListener('alerts', (e) => setAlerts(JSON.parse(e.data)));
    feed.addEventListener('changed', () => refresh().catch(() => {}));
    // Waits grow with the clock alone: read again now and then even when nothing happens.
    const timer = setInterval(() => refresh().catch(() => {}), 15000);
    return () => {
      feed.close();
      clearInterval(timer);
    };
  }, []);

  async function run(action, input, label) {
    try {
      await act(action, input);
      setMsg({ text: `${label} ✓`, bad: false });
      await refresh();
    } catch (e) {
      setMsg({ text: e.message, bad: true });
    }
  }
  const ticketForm = (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const ticket = String(f.get('ticket') || '').trim();
    const op = e.submitter && e.submitter.value;
    if (!ticket) return;
    if (op === 'call') run('windows.call', { window: Number(f.get('window')), ticket }, t('call'));
    else if (op === 'cancel') run('tickets.cancel', { ticket, reason: String(f.get('reason') || 'supervisor') }, t('cancel'));
    else if (op === 'reprint') run('tickets.reprint', { ticket }, t('reprint'));
  };
  const assignForm = (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    run('windows.assign', { window: Number(f.get('window')), services: f.getAll('services').map(String) }, t('assign'));
  };

  const d = data;
  const td = d.today;
  const svcToday = new Map((td ? td.services : []).map((s) => [s.id, s]));
  const winToday = new Map((td ? td.windows : []).map((w) => [w.number, w]));
  const report = (q) => `/api/v1/report?${new URLSearchParams(q)}`;
  return html`<${Bar} title=${t('dashboard')} user=${user} onLang=${() => redraw((n) => n + 1)} />
    <main class="dash">
      ${lost && html`<p class="card error" role="status">${t('lost')}</p>`}
      <p role="status" id="msg" class=${msg.bad ? 'error' : 'ok'}>${msg.text}</p>
      <section class="card" id="alerts" aria-live="polite"><h2>${t('alerts')} <span class=${`pill ${alerts.length ? 'off' : 'on'}`}>${digits(alerts.length, lang)}</span></h2>
        ${alerts.length
          ? html`<ul class="alerts">${alerts.map((a) => html`<li data-alert=${a.alert} class=${a.kind.startsWith('device') ? 'dev' : 'queue'}><b>${t(`al_${a.kind}`)}</b> <bdi dir="ltr">${a.message}</bdi> <small class="muted">${t('since')} ${clock(a.since, lang)}</small></li>`)}</ul>`
          : html`<p class="muted">${t('noAlerts')}</p>`}
      </section>
      <div class="grid two">
        <section class="card"><h2>${t('queues')} <small class="muted">— ${t('live')}</small></h2>
          <table id="queues"><thead><tr><th>${t('service')}</th><th>${t('waiting')}</th><th>${t('longest')}</th><th>${t('serviceLevel')}</th><th>${t('avgWait')}</th></tr></thead>
          <tbody>${d.queues.map((q) => {
            const s = svcToday.get(q.service);
            return html`<tr data-service=${q.service}><td>${nameIn(q.name, lang)}</td><td><b>${digits(q.waiting, lang)}</b></td><td>${digits(q.longestWaitMin, lang)}</td>
              <td class="sl" title=${s ? `${t('target')} ${digits(s.target, lang)}` : ''}>${s ? pct(s.serviceLevel, lang) : '—'}${s && s.called ? html` <small class="muted">(${digits(s.withinTarget, lang)}/${digits(s.called, lang)})</small>` : ''}</td>
              <td>${s ? mins(s.avgWaitS, lang) : '—'}</td></tr>`;
          })}</tbody></table>
        </section>
        ${td && html`<section class="card" id="today"><h2>${t('today')} <small class="muted" dir="ltr">${digits(td.day, lang)}</small></h2>
          <div class="kpis">
            <div class="kpi"><span>${t('issuedN')}</span><b>${digits(td.total.issued, lang)}</b></div>
            <div class="kpi"><span>${t('calledN')}</span><b>${digits(td.total.called, lang)}</b></div>
            <div class="kpi"><span>${t('served')}</span><b>${digits(td.total.served, lang)}</b></div>
            <div class="kpi" id="sl-total"><span>${t('serviceLevel')}</span><b>${pct(td.total.serviceLevel, lang)}</b></div>
            <div class="kpi"><span>${t('avgWait')}</span><b>${mins(td.total.avgWaitS, lang)}</b></div>
          </div>
          <h3>${t('waitsByHour')}</h3>
          <${WaitsChart} hours=${td.hours} lang=${lang} />
          ${canAct && html`<p class="row reports">${t('reports')}:
            <a href=${report({ day: td.day, lang: 'ar' })} target="_blank" rel="noopener">${t('reportAr')}</a>
            ${(boot.languages || []).includes('en') && html`<a href=${report({ day: td.day, lang: 'en' })} target="_blank" rel="noopener">${t('reportEn')}</a>`}
            <a href=${report({ day: td.day, format: 'csv', lang })}>${t('reportCsv')}</a></p>`}
        </section>`}
      </div>
      <section class="card"><h2>${t('windows')}</h2>
        <div class="scroll"><table id="windows"><thead><tr><th>${t('window')}</th><th>${t('status')}</th><th>${t('current')}</th><th>${t('loggedIn')}</th><th>${t('waiting')}</th><th>${t('served')}</th><th>${t('avgService')}</th><th></th></tr></thead>
        <tbody>${d.windows.map((w) => html`<tr data-window=${w.number}>
          <td>${digits(w.number, lang)} — ${nameIn(w.name, lang)}</td>
          <td><span class=${`pill ${w.status}`}>${t(`st_${w.status}`)}</span>${w.reason ? ` (${w.reason})` : ''}</td>
          <td dir="ltr">${w.current ? digits(w.current.number, lang) : '—'}</td>
          <td class="who">${w.loggedIn && w.loggedIn.length ? w.loggedIn.join('، ') : html`<span class="muted">—</span>`}</td>
          <td>${digits(w.waiting, lang)}</td><td>${digits(w.served, lang)}</td>
          <td class="avg">${winToday.has(w.number) ? mins(winToday.get(w.number).avgServiceS, lang) : '—'}</td>
          <td class="row">${canAct && html`
            <button class="btn small" onClick=${() => run('windows.next', { window: w.number }, t('next'))}>${t('next')}</button>
            <button class="btn alt small" disabled=${w.status === 'open'} onClick=${() => run('windows.open', { window: w.number }, t('open'))}>${t('open')}</button>
            <button class="btn alt small" disabled=${w.status !== 'open'} onClick=${() => run('windows.pause', { window: w.number, reason: 'supervisor' }, t('pause'))}>${t('pause')}</button>
            <button class="btn alt small" disabled=${w.status === 'closed'} onClick=${() => run('windows.close', { window: w.number }, t('close'))}>${t('close')}</button>`}</td>
        </tr>`)}</tbody></table></div>
      </section>
      <section class="card"><h2>${t('devices')} <small class="muted">${digits(d.devices.filter((x) => x.online).length, lang)} / ${digits(d.devices.length, lang)} ${t('online')}</small></h2>
        <ul id="devices" class="devs">${d.devices.map((x) => html`<li data-device=${x.id} class=${x.online ? 'on' : 'off'}><bdi dir="ltr">${x.id}</bdi> <small>${x.kind}</small> <span class=${`pill ${x.online ? 'on' : 'off'}`}>${t(x.online ? 'online' : 'offline')}</span>${x.faults ? html` <span class="error">${x.faults.join(', ')}</span>` : ''}</li>`)}</ul>
      </section>
      ${canAct && html`<div class="grid">
        <form class="card" onSubmit=${ticketForm}><h2>${t('ticketActions')}</h2>
          <label for="tk">${t('ticket')}</label><input id="tk" name="ticket" dir="ltr" placeholder="A001" />
          <label for="tw">${t('window')}</label><select id="tw" name="window">${d.windows.map((w) => html`<option value=${w.number}>${digits(w.number, lang)}</option>`)}</select>
          <label for="tr">${t('reason')}</label><input id="tr" name="reason" />
          <div class="row" style="margin-top:.6rem">
            <button class="btn small" name="op" value="call">${t('call')}</button>
            <button class="btn alt small" name="op" value="reprint">${t('reprint')}</button>
            <button class="btn warn small" name="op" value="cancel">${t('cancel')}</button>
          </div>
        </form>
        <form class="card" onSubmit=${assignForm}><h2>${t('assign')}</h2>
          <label for="aw">${t('window')}</label><select id="aw" name="window">${d.windows.map((w) => html`<option value=${w.number}>${digits(w.number, lang)}</option>`)}</select>
          <label for="as">${t('service')}</label><select id="as" name="services" multiple size="4">${d.queues.map((q) => html`<option value=${q.service}>${nameIn(q.name, lang)}</option>`)}</select>
          <div class="row" style="margin-top:.6rem"><button class="btn small">${t('assign')}</button></div>
        </form>
      </div>`}
    </main>`;
}

mount(Dashboard);
