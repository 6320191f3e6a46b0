// The people's API from a page: the session cookie is HttpOnly; the CSRF token comes with /me and goes with every write.
let csrf = '';

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
  }
}

async function call(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
  let data = null;
  try {
    data = await r.json();
  } catch {
    /* no JSON body */
  }
  if (r.status === 401 && !path.endsWith('/login')) {
    location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
    throw new ApiError(401, data);
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

export async function login(name, password) {
  const r = await call('POST', '/api/v1/login', { name, password });
  csrf = r.csrf;
  return r.user;
}
export async function logout() {
  await call('POST', '/api/v1/logout', {}).catch(() => {});
  location.assign('/login');
}
/** Who is logged in (and the CSRF token); sends to the login page when nobody is. */
export async function me() {
  const r = await call('GET', '/api/v1/me');
  csrf = r.csrf;
  return r.user;
}
export function read(action, params = {}) {
  const q = new URLSearchParams(params).toString();
  return call('GET', `/api/v1/${action}${q ? `?${q}` : ''}`);
}
export function act(action, input) {
  return call('POST', `/api/v1/${action}`, input);
}
/** Where a role starts. */
export function homeOf(user) {
  return user.role === 'clerk' ? '/keypad' : user.role === 'reception' ? '/reception' : '/dashboard';
}
