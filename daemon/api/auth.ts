/**
 * People's credentials and sessions: scrypt password hashes (node's crypto,
 * a per-user salt, compared in constant time), in-memory sessions for the
 * browser (an HttpOnly SameSite=Strict cookie plus a CSRF token every
 * cookie-authenticated write must echo) and for programs (a bearer token),
 * and login throttling per user and per address with the broker's token
 * buckets. Sessions do not survive a restart: people log in again.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { Principal, Role } from '../../contract/roles.js';
import { Bucket } from '../spine/bucket.js';
import { Throttle } from '../spine/throttle.js';

const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEYLEN, { N: n, r, p, maxmem: 64 * 1024 * 1024 }, (e, key) => (e ? reject(e) : resolve(key))),
  );
}

/** `scrypt$N$r$p$salt$hash` (base64 parts): what `qhub user add` writes into the config. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, R, P);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (!m) return false;
  const want = Buffer.from(m[5]!, 'base64');
  const got = await derive(password, Buffer.from(m[4]!, 'base64'), Number(m[1]), Number(m[2]), Number(m[3]));
  return got.length === want.length && timingSafeEqual(got, want);
}

/** A hash of nothing anyone knows: a login for an unknown user costs the same time as a wrong password. */
const DUMMY = `scrypt$${N}$${R}$${P}$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(KEYLEN).toString('base64')}`;

export interface UserRecord {
  name: string;
  role: Role;
  windows?: readonly number[];
  password?: string;
}

interface Session {
  principal: Principal;
  csrf: string;
  lastUsed: number;
  /** The password hash it logged in with: a new password ends the session. */
  hash: string;
}

export type LoginResult =
  | { ok: true; principal: Principal; token: string; csrf: string }
  | { ok: false; status: 401 | 429; error: string; message: string; retryAfterS?: number };

/** Sessions idle this long end. */
export const SESSION_IDLE_MS = 12 * 3600_000;
const MAX_SESSIONS = 2000;
/** An address a person logged in from counts as theirs this long (in memory: a restart forgets it). */
const KNOWN_PLACE_MS = 30 * 24 * 3600_000;

const tokenKey = (token: string) => createHash('sha256').update(token).digest('base64');

export class Auth {
  private users: Map<string, UserRecord>;
  private readonly sessions = new Map<string, Session>();
  private readonly perUser = new Map<string, Bucket>();
  private readonly perUserAddress = new Map<string, Bucket>();
  private readonly perAddress = new Map<string, Bucket>();
  /** Where each person logged in from before (`name\naddress` → when, monotonic ms): their own desk is not locked out by someone guessing elsewhere. */
  private readonly knownPlaces = new Map<string, number>();
  private readonly noisy = new Throttle(60_000);
  /** Failed logins since start (for /health). */
  failures = 0;

  constructor(
    users: readonly UserRecord[],
    private readonly o: { log: Logger; deviceIds: ReadonlySet<string>; now?: () => number },
  ) {
    this.users = new Map(users.map((u) => [u.name, u]));
    this.deviceIds = o.deviceIds;
  }

  private deviceIds: ReadonlySet<string>;

  private now(): number {
    return this.o.now?.() ?? performance.now();
  }

  /** New users from a reloaded config; sessions of users removed or changed end. */
  setUsers(users: readonly UserRecord[], deviceIds?: ReadonlySet<string>): void {
    this.users = new Map(users.map((u) => [u.name, u]));
    if (deviceIds) this.deviceIds = deviceIds;
    for (const [k, s] of this.sessions) {
      const u = this.users.get(s.principal.name);
      if (!u || u.role !== s.principal.role || u.password !== s.hash || String(u.windows ?? '') !== String(s.principal.windows ?? '')) this.sessions.delete(k);
    }
  }

  async login(name: string, password: string, address: string): Promise<LoginResult> {
    // Per address: a burst of 10, then one a second; per user from one address: 5, then one every 5 s; per user
    // from every address this user never logged in from: the same 5 and one every 5 s, shared. Someone guessing a
    // name's password from elsewhere (another PC, many addresses) spends the shared allowance, not the allowance of
    // the address the person logged in from within the last 30 days: their own desk still gets in (docs/API.md).
    const place = `${name}\n${address}`;
    const seen = this.knownPlaces.get(place);
    const known = seen !== undefined && this.now() - seen < KNOWN_PLACE_MS;
    const a = this.bucket(this.perAddress, address, 1, 10);
    const ua = this.bucket(this.perUserAddress, place, 0.2, 5);
    const u = known ? undefined : this.bucket(this.perUser, name, 0.2, 5);
    if (!a.take() || !ua.take() || (u && !u.take())) {
      this.failures++;
      const key = `rate/${address}/${name}`;
      const p = this.noisy.pass(key);
      if (p.ok) this.o.log.warn({ user: name, addr: address, held: p.held }, 'logins refused: too many attempts (wait a few seconds)');
      return { ok: false, status: 429, error: 'too_many_logins', message: 'too many login attempts: wait a few seconds and try again', retryAfterS: 5 };
    }
    const user = this.users.get(name);
    const good = await verifyPassword(user?.password ?? DUMMY, password);
    if (!user || !user.password || !good) {
      this.failures++;
      const why = !user ? (this.deviceIds.has(name) ? 'a device cannot log in to the API' : 'unknown user') : !user.password ? 'no password set (qhub user add)' : 'wrong password';
      const p = this.noisy.pass(`fail/${name}/${address}`);
      if (p.ok) this.o.log.warn({ user: name, addr: address, why, held: p.held }, 'login refused');
      return {
        ok: false,
        status: 401,
        error: 'bad_login',
        message: this.deviceIds.has(name) ? 'devices cannot use the API: log in as a person (hub.users)' : 'wrong user name or password',
      };
    }
    const principal: Principal = { name: user.name, role: user.role, ...(user.windows ? { windows: user.windows } : {}), via: 'cookie' };
    const token = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    if (this.sessions.size >= MAX_SESSIONS) {
      // The least recently used session ends.
      let oldest: string | undefined;
      let at = Infinity;
      for (const [k, s] of this.sessions) if (s.lastUsed < at) (at = s.lastUsed), (oldest = k);
      if (oldest) this.sessions.delete(oldest);
    }
    this.sessions.set(tokenKey(token), { principal, csrf, lastUsed: this.now(), hash: user.password });
    if (this.knownPlaces.size >= 10_000) this.knownPlaces.delete(this.knownPlaces.keys().next().value!);
    this.knownPlaces.delete(place);
    this.knownPlaces.set(place, this.now());
    this.o.log.info({ user: user.name, role: user.role, addr: address }, 'logged in');
    return { ok: true, principal, token, csrf };
  }

  /** The session of a token, or undefined (unknown or idle too long). */
  session(token: string): { principal: Principal; csrf: string } | undefined {
    const k = tokenKey(token);
    const s = this.sessions.get(k);
    if (!s) return undefined;
    const now = this.now();
    if (now - s.lastUsed > SESSION_IDLE_MS) {
      this.sessions.delete(k);
      return undefined;
    }
    s.lastUsed = now;
    return s;
  }

  /** Whether a token's session is still there, without counting this as a use (a long-lived event stream asks it). */
  alive(token: string): boolean {
    const s = this.sessions.get(tokenKey(token));
    return !!s && this.now() - s.lastUsed <= SESSION_IDLE_MS;
  }

  /** Everyone with a session now, and how long since each last used it. */
  list(): { name: string; role: string; windows?: readonly number[]; idleMs: number }[] {
    const now = this.now();
    const out: { name: string; role: string; windows?: readonly number[]; idleMs: number }[] = [];
    for (const s of this.sessions.values()) {
      const idleMs = now - s.lastUsed;
      if (idleMs <= SESSION_IDLE_MS) out.push({ name: s.principal.name, role: s.principal.role, ...(s.principal.windows ? { windows: s.principal.windows } : {}), idleMs });
    }
    return out;
  }

  logout(token: string): boolean {
    return this.sessions.delete(tokenKey(token));
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  private bucket(m: Map<string, Bucket>, key: string, rate: number, burst: number): Bucket {
    let b = m.get(key);
    if (!b) {
      if (m.size > 10_000) m.clear(); // a flood of made-up names cannot grow memory without bound
      m.set(key, (b = new Bucket(rate, burst)));
    }
    return b;
  }
}
