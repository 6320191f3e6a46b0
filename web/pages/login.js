import { useState } from 'preact/hooks';
import { html, mount } from '../lib/boot.js';
import { login, homeOf } from '../lib/api.js';
import { Bar } from '../lib/chrome.js';
import { t } from '../lib/i18n.js';

function Login() {
  const [, redraw] = useState(0);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  async function submit(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    setBusy(true);
    setError('');
    try {
      const user = await login(String(f.get('name')), String(f.get('password')));
      const next = new URLSearchParams(location.search).get('next');
      location.assign(next && next.startsWith('/') && !next.startsWith('//') ? next : homeOf(user));
    } catch (err) {
      setError(err.message);
      setBusy(false);
    }
  }
  return html`<${Bar} title=${t('login')} onLang=${() => redraw((n) => n + 1)} />
    <main>
      <form class="card login" onSubmit=${submit}>
        <h2>${t('login')}</h2>
        <label for="name">${t('user')}</label>
        <input id="name" name="name" autocomplete="username" required autofocus dir="ltr" />
        <label for="password">${t('password')}</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required dir="ltr" />
        <p role="alert" class="error" id="login-error">${error}</p>
        <button class="btn" type="submit" disabled=${busy}>${t('login')}</button>
      </form>
    </main>`;
}

mount(Login);
