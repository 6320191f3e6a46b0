// What the hub put in the page (center name, languages, digits) and the shared helpers of every page.
import { h, render } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);
export const boot = JSON.parse(document.getElementById('boot')?.textContent || '{}');

const AR_DIGITS = '٠١٢٣٤٥٦٧٨٩';
/** Writes the digits of a text (a number, a ticket like A042) as the config says: Arabic-Indic or Latin. */
export function digits(x, lang = 'ar') {
  const s = x === null || x === undefined ? '' : String(x);
  return boot.digits === 'arabic' && lang === 'ar' ? s.replace(/[0-9]/g, (d) => AR_DIGITS[Number(d)]) : s;
}

/** The language of the staff pages: Arabic first, English when the center has it; kept in the browser. */
export function getLang() {
  const saved = localStorage.getItem('qhub.lang');
  return saved === 'en' && (boot.languages || []).includes('en') ? 'en' : 'ar';
}
export function setLang(l) {
  localStorage.setItem('qhub.lang', l);
  applyLang(l);
}
export function applyLang(l) {
  document.documentElement.lang = l;
  document.documentElement.dir = l === 'ar' ? 'rtl' : 'ltr';
}

/** A {ar, en} name in the language shown. */
export function nameIn(n, lang) {
  if (!n) return '';
  const text = typeof n === 'string' ? n : (lang === 'en' && n.en) || n.ar || n.en || '';
  return digits(text, lang);
}

export function mount(App, fixedLang) {
  applyLang(fixedLang || getLang());
  render(html`<${App} />`, document.getElementById('app'));
}
