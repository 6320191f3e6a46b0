/**
 * Programs the voice module starts, looked up on PATH before they are
 * needed, so a missing one is named with the package that brings it
 * (instead of an ENOENT at the first call).
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The full path of `name` on `path` (default: this process's PATH), or undefined. */
export function findProgram(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** What a technician reads when aplay is missing. */
export const APLAY_MISSING = 'aplay not found: install alsa-utils (apt-get install alsa-utils)';
