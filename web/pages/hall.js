// The hall display for a TV: fed by the hub's event stream (/hall/<zone>/events).
// Calls that come together are highlighted one after another, each at least
// minShowMs; each announcement is played in the order the hub sends it, and
// `played` goes back when it has ended (the hub's zone waits for it).
import { useEffect, useRef, useState } from 'preact/hooks';
import { html, mount, boot, digits, nameIn } from '../lib/boot.js';

const zone = boot.zone;
const en = (boot.languages || []).includes('en');
const key = (c) => `${c.t}@${c.w}`;

function Hall() {
  const [info, setInfo] = useState(null);
  const [rows, setRows] = useState([]);
  const [shown, setShown] = useState(null);
  const [recent, setRecent] = useState([]);
  const [connected, setConnected] = useState(false);
  const [problem, setProblem] = useState('');
  const [needTap, setNeedTap] = useState(false);
  const [, setTick] = useState(0);
  const s = useRef({ offset: 0, prev: null, lastSeq: -1, queue: [], timer: 0, shownAt: 0, audio: [], playing: false, lastEvent: Date.now() }).current;

  // Highlight: the queue of calls to show, each for at least minShowMs.
  function advance() {
    s.timer = 0;
    const next = s.queue.shift();
    if (!next) return;
    setShown({ ...next, fresh: true });
    s.shownAt = Date.now();
    s.timer = setTimeout(advance, boot.minShowMs || 3000);
  }
  function enqueue(calls) {
    s.queue.push(...calls);
    if (!s.timer) advance();
  }

  function onDisplay(v, first) {
    const now = v.rows || [];
    if (first || !s.prev) {
      // A (re)connection: the hub's state as it is now, without replaying old calls.
      clearTimeout(s.timer);
      s.timer = 0;
      s.queue = [];
      setShown(v.flash ? { t: v.flash.t, w: v.flash.w, fresh: false } : null);
    } else {
      const before = new Set(s.prev.map(key));
      const added = now.filter((c) => !before.has(key(c))).reverse();
      if (v.flash && v.flash.seq > s.lastSeq && !added.some((c) => key(c) === key(v.flash))) added.push({ t: v.flash.t, w: v.flash.w });
      const gone = s.prev.filter((c) => !now.some((x) => key(x) === key(c)));
      if (gone.length) setRecent((r) => [...gone, ...r.filter((x) => !gone.some((g) => key(g) === key(x)))].slice(0, boot.recent ?? 8));
      if (added.length) enqueue(added);
    }
    if (v.flash) s.lastSeq = v.flash.seq;
    s.prev = now;
    setRows(now);
  }

  // Voice: one announcement at a time, in the hub's order.
  async function playNext() {
    if (s.playing) return;
    const a = s.audio.shift();
    if (!a) return;
    s.playing = true;
    try {
      if (a.path) {
        const el = new Audio(a.path);
        await new Promise((resolve) => {
          el.onended = resolve;
          el.onerror = resolve;
          el.play().catch((e) => {
            if (e && e.name === 'NotAllowedError') setNeedTap(true);
            resolve();
          });
        });
      }
    } finally {
      fetch(`/hall/${zone}/played`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: a.id }) }).catch(() => {});
      s.playing = false;
      playNext();
    }
  }

  useEffect(() => {
    let es;
    let watchdog;
    const open = () => {
      let first = true;
      es = new EventSource(`/hall/${zone}/events`);
      const seen = () => (s.lastEvent = Date.now());
      es.onopen = () => {
        seen();
        setConnected(true);
      };
      es.onerror = () => {
        setConnected(false);
        first = true;
      };
      es.addEventListener('hall', (e) => {
        seen();
        const d = JSON.parse(e.data);
        if (d.now) s.offset = d.now - Date.now();
        setInfo(d);
        setConnected(true);
      });
      es.addEventListener('tick', (e) => {
        seen();
        s.offset = JSON.parse(e.data).now - Date.now();
      });
      es.addEventListener('display', (e) => {
        seen();
        onDisplay(JSON.parse(e.data), first);
        first = false;
      });
      es.addEventListener('announce', (e) => {
        seen();
        s.audio.push(JSON.parse(e.data));
        playNext();
      });
      es.addEventListener('problem', (e) => setProblem(JSON.parse(e.data).message));
    };
    open();
    // A stream that went silent (a dead Wi-Fi link keeps no error): start again.
    watchdog = setInterval(() => {
      setTick((n) => n + 1);
      if (Date.now() - s.lastEvent > 35000) {
        es.close();
        setConnected(false);
        s.lastEvent = Date.now();
        open();
      }
    }, 1000);
    return () => {
      clearInterval(watchdog);
      es.close();
    };
  }, []);

  const now = new Date(Date.now() + s.offset);
  const tz = (info && info.timezone) || undefined;
  const nu = boot.digits === 'arabic' ? 'arab' : 'latn';
  const clock = new Intl.DateTimeFormat(`ar-EG-u-nu-${nu}`, { hour: '2-digit', minute: '2-digit', timeZone: tz }).format(now);
  const date = new Intl.DateTimeFormat(`ar-EG-u-nu-${nu}`, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', timeZone: tz }).format(now);
  const dateEn = en ? new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'short', timeZone: tz }).format(now) : '';
  const newest = shown ? key(shown) : rows[0] && key(rows[0]);
  return html`<div class="hall" data-connected=${connected}>
    ${!connected && html`<div class="banner" role="status" id="reconnecting">جار إعادة الاتصال… ${en ? ' — Reconnecting…' : ''}</div>`}
    <header>
      <div class="name">${nameIn(boot.center, 'ar')}${en && html`<small lang="en">${boot.center.en}</small>`}</div>
      <div class="clock"><b>${clock}</b><span>${date}</span>${en && html`<span lang="en" class="en-date">${dateEn}</span>`}</div>
    </header>
    <div class="body">
      <section class=${`now${shown && shown.fresh ? ' fresh' : ''}`} id="now" aria-live="assertive" key=${shown ? key(shown) + s.shownAt : 'idle'}>
        ${shown
          ? html`<div class="lbl">رقم التذكرة${en && html`<small lang="en">Ticket</small>`}</div>
              <div class="t" id="now-t">${digits(shown.t)}</div>
              <div class="lbl">يتوجه إلى${en && html`<small lang="en">please go to</small>`}</div>
              <div class="w" id="now-w">شباك ${digits(shown.w)}</div>${en && html`<div class="lbl" lang="en">Window ${shown.w}</div>`}`
          : html`<div class="idle">أهلا بكم${en && html`<br /><span lang="en">Welcome</span>`}</div>`}
      </section>
      <section class="list">
        <h2>النداءات الحالية${en && html`<small lang="en">Now serving</small>`}</h2>
        <div class="calls" id="rows">
          ${rows.map((c) => html`<div class=${`call${key(c) === newest ? ' newest' : ''}`} data-t=${c.t} data-w=${c.w}><span class="t">${digits(c.t)}</span><span class="w">شباك ${digits(c.w)}</span></div>`)}
        </div>
        ${recent.length > 0 && html`<h2>نداءات سابقة${en && html`<small lang="en">Earlier calls</small>`}</h2>
          <div class="recent">${recent.map((c) => html`<span>${digits(c.t)} ← ${digits(c.w)}</span>`)}</div>`}
      </section>
    </div>
    <footer id="waiting">
      ${info && info.services.map((x) => html`<div class="svc" data-service=${x.id}>${nameIn(x.name, 'ar')}<b>${digits(x.waiting)}</b>${en && html`<small lang="en">${x.name.en}: waiting</small>`}</div>`)}
    </footer>
    ${needTap && html`<button class="sound" onClick=${() => setNeedTap(false)}>اضغط لتشغيل الصوت${en ? ' · Tap to enable sound' : ''}</button>`}
    ${problem && html`<div class="problem">${problem}</div>`}
  </div>`;
}

mount(Hall, 'ar');
