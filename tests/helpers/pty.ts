/**
 * A pseudo-terminal pair from socat: `hub` is the end the hub opens as its
 * serial port, `device` the end an emulator opens. Killing socat is
 * unplugging the cable (both links vanish, the hub's read fails); `plug()`
 * brings a new pair up under the same names.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class PtyPair {
  readonly hub: string;
  readonly device: string;
  private proc?: ChildProcess;

  constructor(dir = mkdtempSync(join(tmpdir(), 'qhub-pty-')), name = 'line') {
    this.hub = join(dir, `${name}-hub`);
    this.device = join(dir, `${name}-dev`);
  }

  /** Starts socat and waits until both ends exist. */
  async plug(): Promise<this> {
    return this.start([`pty,raw,echo=0,link=${this.hub}`, `pty,raw,echo=0,link=${this.device}`], [this.hub, this.device]);
  }

  /**
   * Plugs the hub's end into a device that records everything into `file`
   * from the first byte: no moment where the hub could write before the far
   * end listens (as can happen between plug() and an emulator opening).
   */
  async plugToFile(file: string): Promise<this> {
    return this.start([`pty,raw,echo=0,link=${this.hub}`, `OPEN:${file},creat,append`], [this.hub]);
  }

  private async start(args: string[], links: string[]): Promise<this> {
    if (this.proc) return this;
    const p = spawn('socat', args, { stdio: 'ignore' });
    this.proc = p;
    p.on('exit', () => {
      if (this.proc === p) this.proc = undefined;
    });
    const t0 = Date.now();
    while (!links.every((l) => existsSync(l))) {
      if (Date.now() - t0 > 5000) throw new Error(`socat did not create ${this.hub} within 5 s (is socat installed?)`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this;
  }

  /** Stops socat without ending it (SIGSTOP): the far end stops reading, so the hub's writes fill the pty and hang. */
  freeze(): void {
    this.proc?.kill('SIGSTOP');
  }

  /**
   * Kills socat at once (SIGKILL, which also ends a frozen one): the cable is
   * pulled with whatever was in it. socat gets no chance to remove its links,
   * so they are removed here.
   */
  async pull(): Promise<void> {
    if (await this.end('SIGKILL')) for (const l of [this.hub, this.device]) rmSync(l, { force: true });
  }

  /** Kills socat: the cable is pulled. Resolves once the links are gone. */
  async unplug(): Promise<void> {
    if (!(await this.end('SIGTERM'))) return;
    const t0 = Date.now();
    while ((existsSync(this.hub) || existsSync(this.device)) && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 20));
  }

  /** Sends socat `signal` and waits for it to exit; false when none was running. */
  private async end(signal: NodeJS.Signals): Promise<boolean> {
    const p = this.proc;
    if (!p) return false;
    this.proc = undefined;
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill(signal);
    });
    return true;
  }
}
