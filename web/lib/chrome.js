// The bar at the top of the staff pages: the page's title, the language switch, who is logged in.
import { boot, html, getLang, setLang, nameIn } from './boot.js';
import { logout } from './api.js';
import { t } from './i18n.js';

export function Bar({ title, user, onLang }) {
  const lang = getLang();
  const other = lang === 'ar' ? 'en' : 'ar';
  const hasEn = (boot.languages || []).includes('en');
  return html`<div class="bar" role="banner">
    <h1>${title} — ${nameIn(boot.center, lang)}</h1>
    ${hasEn && html`<button class="link" lang=${other} onClick=${() => { setLang(other); onLang && onLang(); }}>${other === 'en' ? 'English' : 'العربية'}</button>`}
    ${user && html`<span>${user.name}</span><button class="link" onClick=${logout}>${t('logout')}</button>`}
  </div>`;
}
