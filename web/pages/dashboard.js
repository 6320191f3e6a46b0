// The supervisor dashboard: queues, windows and devices, live; actions through the API.
import { useEffect, useState } from 'preact/hooks';
import { html, mount, digits, getLang, nameIn } from '../lib/boot.js';
import { me, read, act } from '../lib/api.js';
import { Bar } from '../lib/chrome.js';
import { t } from '../lib/i18n.js';

function Dashboard() {
  const [, redraw] = useState(0);
  const [user, setUser] = useState(null);
  const [data, setData] = useState({ queues: [], windows: [], devices: [], status: null });
  const [msg, setMsg] = useState({ text: '', bad: false });
  const [lost, setLost] = useState(false);
  const lang = getLang();
  const canAct = user && user.role === 'supervisor';

  async function refresh() {
    const [queues, windows, devices, status] = await Promise.all([read('queues'), read('windows'), read('devices'), read('status')]);
    setData({ queues, windows, devices, status });
  }
  useEffect(() => {
    me().then(setUser).catch(() => {});
    let alive = true;
    const poll = () => refresh().then(() => alive && setLost(false), () => alive && setLost(true));
    poll();
    const timer = setInterval(poll, 2000);
    return () => {
      alive = false;
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
  return html`<${Bar} title=${t('dashboard')} user=${user} onLang=${() => redraw((n) => n + 1)} />
    <main>
      ${lost && html`<p class="card error" role="status">${t('lost')}</p>`}
      <p role="status" id="msg" class=${msg.bad ? 'error' : 'ok'}>${msg.text}</p>
      <div class="grid">
        <section class="card"><h2>${t('queues')} <small class="muted">— ${t('live')}</small></h2>
          <table id="queues"><thead><tr><th>${t('service')}</th><th>${t('waiting')}</th><th>${t('longest')}</th></tr></thead>
          <tbody>${d.queues.map((q) => html`<tr data-service=${q.service}><td>${nameIn(q.name, lang)}</td><td><b>${digits(q.waiting, lang)}</b></td><td>${digits(q.longestWaitMin, lang)}</td></tr>`)}</tbody></table>
        </section>
        <section class="card"><h2>${t('devices')}</h2>
          <table id="devices"><thead><tr><th>${t('devices')}</th><th>${t('kind')}</th><th>${t('status')}</th></tr></thead>
          <tbody>${d.devices.map((x) => html`<tr><td dir="ltr">${x.id}</td><td>${x.kind}</td><td><span class=${`pill ${x.online ? 'on' : 'off'}`}>${t(x.online ? 'online' : 'offline')}</span>${x.faults ? html` <span class="error">${x.faults.join(', ')}</span>` : ''}</td></tr>`)}</tbody></table>
        </section>
      </div>
      <section class="card"><h2>${t('windows')}</h2>
        <table id="windows"><thead><tr><th>${t('window')}</th><th>${t('status')}</th><th>${t('current')}</th><th>${t('waiting')}</th><th>${t('served')}</th><th></th></tr></thead>
        <tbody>${d.windows.map((w) => html`<tr data-window=${w.number}>
          <td>${digits(w.number, lang)} — ${nameIn(w.name, lang)}</td>
          <td><span class=${`pill ${w.status}`}>${t(`st_${w.status}`)}</span>${w.reason ? ` (${w.reason})` : ''}</td>
          <td dir="ltr">${w.current ? digits(w.current.number, lang) : '—'}</td>
          <td>${digits(w.waiting, lang)}</td><td>${digits(w.served, lang)}</td>
          <td class="row">${canAct && html`
            <button class="btn small" onClick=${() => run('windows.next', { window: w.number }, t('next'))}>${t('next')}</button>
            <button class="btn alt small" disabled=${w.status === 'open'} onClick=${() => run('windows.open', { window: w.number }, t('open'))}>${t('open')}</button>
            <button class="btn alt small" disabled=${w.status !== 'open'} onClick=${() => run('windows.pause', { window: w.number, reason: 'supervisor' }, t('pause'))}>${t('pause')}</button>
            <button class="btn alt small" disabled=${w.status === 'closed'} onClick=${() => run('windows.close', { window: w.number }, t('close'))}>${t('close')}</button>`}</td>
        </tr>`)}</tbody></table>
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
