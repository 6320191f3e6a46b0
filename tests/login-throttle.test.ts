/**
 * Login throttling as the people at the center meet it: someone guessing a
 * supervisor's password from another PC is held back, and the supervisor
 * still logs in from the desk she used before (real scrypt hashes).
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Auth, hashPassword } from '../daemon/api/auth.js';

const DESK = '192.168.1.20';
const ELSEWHERE = '192.168.1.66';
const OTHER = ['192.168.1.70', '192.168.1.71', '192.168.1.72', '192.168.1.73'];

async function auth(): Promise<Auth> {
  const password = await hashPassword('the-right-password');
  return new Auth([{ name: 'mona', role: 'supervisor', password }], { log: pino({ level: 'silent' }), deviceIds: new Set(['kp-1']) });
}

describe('login throttling', () => {
  it('a password-guessing loop from another address does not lock the person out of the desk she logged in from before', async () => {
    const a = await auth();
    expect((await a.login('mona', 'the-right-password', DESK)).ok).toBe(true);
    const codes: number[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await a.login('mona', `guess-${i}`, ELSEWHERE);
      codes.push(r.ok ? 200 : r.status);
    }
    // Four guesses reach the password check (her first login, from an address new then, took one of the name's five), then the guesser waits.
    expect(codes.slice(0, 4)).toEqual([401, 401, 401, 401]);
    expect(codes.slice(4).every((c) => c === 429)).toBe(true);
    const atDesk = await a.login('mona', 'the-right-password', DESK);
    expect(atDesk.ok).toBe(true);
  });

  it('guesses spread over many addresses share one allowance for the name; a new address waits with them', async () => {
    const a = await auth();
    const codes: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await a.login('mona', `guess-${i}`, OTHER[i % OTHER.length]!);
      codes.push(r.ok ? 200 : r.status);
    }
    expect(codes.filter((c) => c === 401)).toHaveLength(5);
    // Mona at a PC she never used: the name's shared allowance is spent, so she waits too (docs/API.md).
    const fresh = await a.login('mona', 'the-right-password', '192.168.1.99');
    expect(fresh.ok).toBe(false);
    expect(!fresh.ok && fresh.status).toBe(429);
    expect(!fresh.ok && fresh.retryAfterS).toBe(5);
  });

  it('the desk itself is still held to its own five guesses', async () => {
    const a = await auth();
    expect((await a.login('mona', 'the-right-password', DESK)).ok).toBe(true);
    const codes: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await a.login('mona', `guess-${i}`, DESK);
      codes.push(r.ok ? 200 : r.status);
    }
    expect(codes).toEqual([401, 401, 401, 401, 429, 429, 429, 429, 429, 429]);
  });
});
