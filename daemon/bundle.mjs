// The daemon as the Pi runs it: dist/bundle/qhub.js, made by `npm run build`
// after tsc from dist/daemon/cli.js and the packages it imports. Node 20 has
// no compile cache, and loading ~240 ES modules one by one was most of the
// start-up; bundled, start-up takes less CPU and the process less memory
// (docs/BENCHMARKS.md, "Start-up and memory"). What is imported with
// `await import()` (mqtt.js, prom-client, ws, node-cron, the ticket renderer,
// the CLI's other commands) stays a separate chunk, loaded when needed.
// Tests run dist/ as tsc made it; tests/bundle.test.ts runs this one.
//
// Left in node_modules (loaded from there at run time):
// - native modules (.node files) and what wraps them;
// - pino and its transports (pino-pretty runs in a worker thread that pino
//   starts from its own lib/worker.js, found by path);
// - what the code loads itself through createRequire (johnny-five, firmata),
//   and mqtt-packet: daemon/mqtt/broker.ts turns off its 6 MiB packet-id
//   cache on the copy Aedes requires; bundled, Aedes would get a copy of its
//   own, with the cache on (seen in a heap snapshot: 66,428 Buffers, 6 MiB);
// - Fastify's schema compilers (Ajv, fast-json-stringify) and its inject()
//   (light-my-request): no route has a schema and the hub never injects, so
//   they are never loaded; bundled, they were 0.6 MB more to parse at start.
//
// zod's `z.locales` and `z.core.locales` (its messages in 49 languages, 0.35 MB, half of zod in
// the bundle) is left out: the hub never sets a zod locale, zod's English
// messages come from elsewhere (zod/v4/classic/schemas.js imports en.js),
// and the hub words its own config errors.
//
// Names are kept (no identifier minification): stack traces in the journal
// still say which function failed. Usage: node daemon/bundle.mjs [OUTDIR]
import { build } from 'esbuild';
import { chmodSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
// Two levels below the checkout, as dist/daemon/cli.js: the paths the code
// finds from import.meta.url (package.json, config/, assets/) stay right.
const out = resolve(root, process.argv[2] ?? 'dist/bundle');
rmSync(out, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { qhub: 'dist/daemon/cli.js' },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: out,
  external: [
    'better-sqlite3',
    'serialport',
    '@serialport/*',
    'unix-dgram',
    '@napi-rs/canvas',
    'pino',
    'pino-pretty',
    'thread-stream',
    'johnny-five',
    'firmata-io',
    'mqtt-packet',
    '@fastify/ajv-compiler',
    '@fastify/fast-json-stringify-compiler',
    'light-my-request',
  ],
  // Bundled CommonJS packages call require() for Node's own modules.
  banner: { js: "import { createRequire as __qhubRequire } from 'node:module'; const require = __qhubRequire(import.meta.url);" },
  plugins: [
    {
      name: 'no-zod-locales',
      setup(b) {
        b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (a) => (/[\\/]zod[\\/]v4[\\/](classic[\\/]external|core[\\/]index)\.js$/.test(a.importer) ? { path: 'zod-locales', namespace: 'qhub-empty' } : undefined));
        b.onLoad({ filter: /.*/, namespace: 'qhub-empty' }, () => ({ contents: 'export {};', loader: 'js' }));
      },
    },
  ],
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
});
chmodSync(join(out, 'qhub.js'), 0o755);
