/// <reference lib="dom" />
/**
 * Twenty hall pages open (each in its own browser context, as twenty TVs
 * would be), an MQTT keypad calls `next`, and the number is timed until it is
 * on every page: p50 and p99 over every page and call, printed. The target (a
 * call on the hall display within a second) is a speed figure: measured
 * here and read from a quiet run (docs/WEB.md), never failed on.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, exampleSecrets, startHub, testCenter, type RunningHub, type TestDevice } from './helpers/hub.js';

const PAGES = 20;
const CALLS = 10;

describe('hall pages under load', () => {
  let hub: RunningHub;
  let browser: Browser;
  let kp: TestDevice;
  let disp: TestDevice;
  const pages: Page[] = [];

  beforeAll(async () => {
    const { dir, config } = testCenter((doc) => {
      const devices = doc.get('devices') as { add(n: unknown): void };
    });
    hub = await startHub(config, join(dir, 'data'), { QHUB_SUPERVISOR_SECRET: 'x-secret-1234' });
    const secrets = exampleSecrets();
    kp = await connectDevice(hub.mqttPort, 'kp-1', secrets['kp-1']!);
    disp = await connectDevice(hub.mqttPort, 'disp-1', secrets['disp-1']!);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    for (let i = 0; i < PAGES; i++) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
      const p = await ctx.newPage();
      await p.goto(`http://127.0.0.1:${hub.httpPort}/hall/hall`);
      await p.waitForSelector('.hall[data-connected="true"]');
      // Each page notes when a ticket number first appears among the current calls.
      await p.evaluate(() => {
        const w = window as unknown as { __seen: Record<string, number> };
        w.__seen = {};
        new MutationObserver(() => {
          for (const el of document.querySelectorAll<HTMLElement>('#rows .call')) w.__seen[el.dataset.t!] ??= Date.now();
        }).observe(document.body, { subtree: true, childList: true, attributes: true });
      });
      pages.push(p);
    }
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await kp?.close();
    await disp?.close();
    await hub?.stop();
  });

  // Correctness only: every call reaches every page. The latency is printed, not judged here: speed is the
  // bench's (a timed assertion failed on a machine at load 16 while the hub was right: p99 1.7 s).
  it(`a keypad's next reaches all ${PAGES} pages, every call on every page`, async () => {
    const lat: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      await disp.request('press', { service: 'intake' }, 'ticket');
      const t0 = Date.now();
      const r = await kp.request('cmd', { cmd: 'next' }, 'screen', 5000);
      const t = r.body.t as string;
      const seen = await Promise.all(
        pages.map(async (p) => {
          await p.waitForFunction((x) => (window as unknown as { __seen: Record<string, number> }).__seen[x] !== undefined, t, { timeout: 60_000, polling: 50 });
          return p.evaluate((x) => (window as unknown as { __seen: Record<string, number> }).__seen[x]!, t);
        }),
      );
      lat.push(...seen.map((at) => at - t0));
    }
    lat.sort((a, b) => a - b);
    const q = (f: number) => lat[Math.min(lat.length - 1, Math.floor(f * lat.length))]!;
    console.log(`hall pages: ${PAGES} pages x ${CALLS} calls: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${lat.at(-1)} ms (load ${loadavg()[0]!.toFixed(1)})`);
    expect(lat).toHaveLength(PAGES * CALLS);
  }, 180_000);
});
