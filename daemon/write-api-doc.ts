/** `npm run docs:api`: writes docs/API.md from the command table (daemon/api/doc.ts). */
import { writeFileSync } from 'node:fs';
import { ACTIONS } from './api/actions.js';
import { renderApiDoc } from './api-doc.js';

const target = process.argv[2] ?? new URL('../../docs/API.md', import.meta.url).pathname;
writeFileSync(target, await renderApiDoc());
console.log(`${target}: ${ACTIONS.length} actions`);
