// Reception: issue a ticket on a citizen's behalf, print it on a chosen dispenser or show it on screen.
import { useEffect, useState } from 'preact/hooks';
import { html, mount, digits, getLang, nameIn } from '../lib/boot.js';
import { me, read, act } from '../lib/api.js';
import { Bar } from '../lib/chrome.js';
import { t } from '../lib/i18n.js';

function Reception() {
  const [, redraw] = useState(0);
  const [user, setUser] = useState(null);
  const [queues, setQueues] = useState([]);
  const [printers, setPrinters] = useState([]);
  const [printer, setPrinter] = useState('');
  const [issued, setIssued] = useState(null);
  const [msg, setMsg] = useState({ text: '', bad: false });
  const [busy, setBusy] = useState(false);
  const lang = getLang();

  useEffect(() => {
    me().then(setUser).catch(() => {});
    const poll = async () => {
      const [q, devs] = await Promise.all([read('queues'), read('devices')]);
      setQueues(q);
      setPrinters(devs.filter((d) => d.kind === 'dispenser'));
    };
    poll().catch((e) => setMsg({ text: e.message, bad: true }));
    const timer = setInterval(() => poll().catch(() => {}), 3000);
    return () => clearInterval(timer);
  }, []);

  async function issue(service) {
    setBusy(true);
    try {
      const r = await act('tickets.issue', { service, ...(printer ? { print: printer } : {}) });
      setIssued(r);
      const p = r.printed;
      setMsg(p && p.error ? { text: p.message, bad: true } : { text: p ? `${t('printed')} ${p.device}` : t('issued'), bad: false });
    } catch (e) {
      setMsg({ text: e.message, bad: true });
    } finally {
      setBusy(false);
    }
  }

  const tk = issued && issued.ticket;
  return html`<${Bar} title=${t('reception')} user=${user} onLang=${() => redraw((n) => n + 1)} />
    <main>
      <div class="grid">
        <section class="card"><h2>${t('issue')}</h2>
          <label for="printer">${t('printOn')}</label>
          <select id="printer" value=${printer} onChange=${(e) => setPrinter(e.target.value)}>
            <option value="">${t('onScreen')}</option>
            ${printers.map((p) => html`<option value=${p.id} disabled=${!p.online}>${p.id} (${t(p.online ? 'online' : 'offline')})</option>`)}
          </select>
          <div class="row" style="margin-top:1rem" id="services">
            ${queues.map((q) => html`<button class="btn" data-service=${q.service} disabled=${busy} onClick=${() => issue(q.service)}>${nameIn(q.name, lang)} <small>(${digits(q.waiting, lang)})</small></button>`)}
          </div>
          <p role="status" id="msg" class=${msg.bad ? 'error' : 'ok'}>${msg.text}</p>
        </section>
        <section class="card" aria-live="polite"><h2>${t('ticket')}</h2>
          ${tk ? html`<div class="ticket-shown" id="ticket">${digits(tk.number, lang)}</div>
            <p>${t('ahead')}: ${digits(tk.ahead, lang)}</p>` : html`<p class="muted">—</p>`}
        </section>
      </div>
    </main>`;
}

mount(Reception);
