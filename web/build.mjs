// Builds the web pages into dist/web/: one script per page (Preact + htm,
// bundled and minified by esbuild), one style sheet, the Noto fonts from
// assets/fonts, all under hashed names, and manifest.json naming them with
// each script's gzipped size. The hub (daemon/web/module.ts) serves them.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'dist/web');
const pages = ['login', 'keypad', 'dashboard', 'reception', 'hall'];
const BUDGET = 60 * 1024;

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'static'), { recursive: true });
const r = await build({
  absWorkingDir: root,
  entryPoints: [...pages.map((p) => `web/pages/${p}.js`), 'web/style.css'],
  bundle: true,
  minify: true,
  format: 'esm',
  // Chromium of a Raspberry Pi OS and of TVs from 2019 on.
  target: 'es2020',
  outdir: join(out, 'static'),
  entryNames: '[name].[hash]',
  assetNames: 'fonts/[name].[hash]',
  loader: { '.ttf': 'file' },
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const manifest = { pages: {}, css: '', fonts: [], gzip: {} };
for (const [file, info] of Object.entries(r.metafile.outputs)) {
  const name = relative(join(out, 'static'), join(root, file));
  if (info.entryPoint?.startsWith('web/pages/')) {
    const page = basename(info.entryPoint, '.js');
    manifest.pages[page] = name;
    manifest.gzip[page] = gzipSync(readFileSync(join(root, file)), { level: 9 }).length;
  } else if (name.endsWith('.css')) manifest.css = name;
  else if (name.startsWith('fonts/') && /Arabic-Regular|Sans-Regular/.test(name)) manifest.fonts.push(name);
}
writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2));
const over = Object.entries(manifest.gzip).filter(([, n]) => n > BUDGET);
console.log(`web: ${Object.entries(manifest.gzip).map(([p, n]) => `${p} ${(n / 1024).toFixed(1)} kB`).join(', ')} (gzipped)`);
if (over.length) {
  console.error(`web: over the ${BUDGET / 1024} kB budget: ${over.map(([p]) => p).join(', ')}`);
  process.exit(1);
}
