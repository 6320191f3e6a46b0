// The soft keypad: the same actions as a hardware keypad, for the windows the clerk is bound to.
import { useEffect, useState } from 'preact/hooks';
import { html, mount, digits, getLang, nameIn } from '../lib/boot.js';
import { me, read, act } from '../lib/api.js';
import { Bar } from '../lib/chrome.js';
import { t } from '../lib/i18n.js';

function Keypad() {
  const [, redraw] = useState(0);
  const [user, setUser] = useState(null);
  const [windows, setWindows] = useState([]);
  const [sel, setSel] = useState(null);
  const [w, setW] = useState(null);
  const [services, setServices] = useState([]);
  const [msg, setMsg] = useState({ text: '', bad: false });
  const [busy, setBusy] = useState(false);
  const [reason, setReason] = useState('break');
  const lang = getLang();

  useEffect(() => {
    (async () => {
      const u = await me();
      setUser(u);
      const all = await read('windows');
      // A clerk sees only the windows bound to them; a supervisor may work any.
      const mine = u.role === 'clerk' ? all.filter((x) => (u.windows || []).includes(x.number)) : u.role === 'supervisor' ? all : [];
      setWindows(mine);
      if (mine.length) setSel(mine[0].number);
      setServices((await read('queues')).map((q) => ({ id: q.service, name: q.name })));
    })().catch((e) => setMsg({ text: e.message, bad: true }));
  }, []);

  useEffect(() => {
    if (sel === null) return undefined;
    let alive = true;
    const poll = async () => {
      try {
        const x = await read('window', { window: sel });
        if (alive) setW(x);
      } catch (e) {
        if (alive) setMsg({ text: e.message, bad: true });
      }
    };
    poll();
    // Live: the hub says when queues or windows changed (Server-Sent Events), and the page reads its window
    // then; once every 15 s as well, should the feed be down (it reconnects by itself, and reads on opening).
    const feed = new EventSource('/api/v1/events');
    feed.addEventListener('open', poll);
    feed.addEventListener('changed', poll);
    const timer = setInterval(poll, 15000);
    return () => {
      alive = false;
      feed.close();
      clearInterval(timer);
    };
  }, [sel]);

  async function run(action, input = {}) {
    setBusy(true);
    try {
      // tickets.return names the ticket only; every other action is the window's.
      const r = action === 'return' ? await act('tickets.return', input) : await act(`windows.${action}`, { window: sel, ...input });
      setMsg({ text: `${t(action)} ✓${r && r.ticket && r.ticket.number ? ` ${digits(r.ticket.number, lang)}` : ''}`, bad: false });
      setW(await read('window', { window: sel }));
    } catch (e) {
      setMsg({ text: e.message, bad: true });
    } finally {
      setBusy(false);
    }
  }

  const cur = w && w.current;
  const byNumber = (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const ticket = String(f.get('ticket') || '').trim();
    const op = e.submitter && e.submitter.value;
    if (!ticket || !op) return;
    if (op === 'callInquiry') run('callInquiry', { inquiry: ticket });
    else run(op, { ticket });
  };
  const transferTo = (e) => {
    e.preventDefault();
    const s = new FormData(e.target).get('service');
    if (s) run('transfer', { service: String(s) });
  };
  return html`<${Bar} title=${t('keypad')} user=${user} onLang=${() => redraw((n) => n + 1)} />
    <main class="keypad">
      ${user && !windows.length && html`<p class="card error">${t('noWindows')}</p>`}
      ${windows.length > 1 && html`<div class="tabs" role="tablist">${windows.map((x) => html`<button class="btn alt" role="tab" aria-selected=${x.number === sel} onClick=${() => setSel(x.number)}>${t('window')} ${digits(x.number, lang)}</button>`)}</div>`}
      ${w && html`<section class="card" aria-live="polite" data-window=${w.number}>
        <h2>${t('window')} ${digits(w.number, lang)} — ${nameIn(w.name, lang)} <span class=${`pill ${w.status}`}>${t(`st_${w.status}`)}${w.reason ? ` (${w.reason})` : ''}</span></h2>
        <div class="now" id="current">${cur ? digits(cur.number, lang) : '—'}</div>
        <p class="row muted" style="justify-content:center">
          ${cur ? html`<span class="pill">${t(`st_${cur.status}`)}</span>` : html`<span>${t('none')}</span>`}
          <span>${t('waiting')}: <b id="waiting">${digits(w.waiting, lang)}</b></span>
          <span>${t('served')}: <b>${digits(w.served, lang)}</b></span>
        </p>
        <div class="keys">
          <button class="btn" id="k-next" disabled=${busy} onClick=${() => run('next')}>${t('next')}</button>
          <button class="btn alt" id="k-recall" disabled=${busy || !cur} onClick=${() => run('recall')}>${t('recall')}</button>
          <button class="btn alt" id="k-start" disabled=${busy || !cur || cur.status !== 'called'} onClick=${() => run('start')}>${t('start')}</button>
          <button class="btn alt" id="k-done" disabled=${busy || !cur} onClick=${() => run('done')}>${t('done')}</button>
          <button class="btn alt" id="k-noShow" disabled=${busy || !cur || cur.status !== 'called'} onClick=${() => run('noShow')}>${t('noShow')}</button>
          <button class="btn alt" id="k-park" disabled=${busy || !cur} onClick=${() => run('park')}>${t('park')}</button>
        </div>
        <form class="row" style="margin-top:1rem" onSubmit=${transferTo}>
          <label for="tr" style="margin:0">${t('transfer')}</label>
          <select id="tr" name="service" style="width:auto">${services.map((s) => html`<option value=${s.id}>${nameIn(s.name, lang)}</option>`)}</select>
          <button class="btn alt small" type="submit" disabled=${busy || !cur}>${t('transfer')}</button>
        </form>
        <form class="row" style="margin-top:1rem" onSubmit=${byNumber}>
          <label for="tn" style="margin:0">${t('ticket')}</label>
          <input id="tn" name="ticket" dir="ltr" placeholder="A001" style="width:9rem" />
          <button class="btn alt small" name="op" value="call" disabled=${busy}>${t('call')}</button>
          <button class="btn alt small" name="op" value="resume" disabled=${busy}>${t('resume')}</button>
          <button class="btn alt small" name="op" value="return" disabled=${busy}>${t('return')}</button>
          <button class="btn alt small" name="op" value="callInquiry" disabled=${busy}>${t('callInquiry')}</button>
        </form>
        <div class="row" style="margin-top:1rem">
          <button class="btn alt small" id="k-open" disabled=${busy || w.status === 'open'} onClick=${() => run('open')}>${t('open')}</button>
          <select id="reason" aria-label=${t('reason')} style="width:auto" value=${reason} onChange=${(e) => setReason(e.target.value)}>
            ${['break', 'prayer', 'system', 'meeting'].map((r) => html`<option value=${r}>${t(`r_${r}`)}</option>`)}
          </select>
          <button class="btn warn small" id="k-pause" disabled=${busy || w.status !== 'open'} onClick=${() => run('pause', { reason })}>${t('pause')}</button>
          <button class="btn warn small" id="k-close" disabled=${busy || w.status === 'closed'} onClick=${() => run('close')}>${t('close')}</button>
        </div>
      </section>`}
      <p role="status" id="msg" class=${msg.bad ? 'error' : 'ok'}>${msg.text}</p>
    </main>`;
}

mount(Keypad);
