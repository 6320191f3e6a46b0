/**
 * The shape of every capability of the daemon (broker, device hub,
 * announcer, schedules, HTTP, later the forwarder and the web pages), and
 * the runner that starts them in the order they were added, stops them in
 * reverse, contains one module's failure and reports each module's state.
 *
 * Constructors only assign; work happens in `start()` and `stop()`.
 */
import type { Logger } from 'pino';
import type { Changes } from '../../contract/ports.js';
import type { CenterConfig } from '../../config/schema.js';

export interface ModuleHealth {
  /** false: the module works but not fully (storage failing, backlog too old...). */
  ok: boolean;
  /** Figures merged at the top of /health (e.g. the core's `seq`, the broker's `clients`). */
  summary?: Record<string, unknown>;
  /** Anything else worth showing under the module's entry in /health. */
  detail?: Record<string, unknown>;
}

export interface HubModule {
  readonly name: string;
  /**
   * The hub cannot serve without it: if it fails to start, the daemon stops
   * and exits non-zero (systemd restarts it). Other modules that fail are
   * logged, marked failed in /health, and the hub runs on without them.
   */
  readonly essential?: boolean;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
  health?(): ModuleHealth;
  /**
   * A reloaded config (SIGHUP, `qhub reload`): take what changed without
   * dropping what is unchanged (connections, queues). Keys marked RESTART in
   * the schema keep their running values in `config`.
   */
  reload?(config: CenterConfig, changes: Changes): void | Promise<void>;
}

export type ModuleState = 'idle' | 'starting' | 'running' | 'failed' | 'stopping' | 'stopped';

export interface ModuleReport {
  name: string;
  state: ModuleState;
  essential: boolean;
  ok: boolean;
  error?: string;
  summary?: Record<string, unknown>;
  detail?: Record<string, unknown>;
}

export class ModuleStartError extends Error {
  constructor(
    readonly module: string,
    override readonly cause: unknown,
  ) {
    super(`module ${module} could not start: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'ModuleStartError';
  }
}

export class Modules {
  private readonly list: { module: HubModule; state: ModuleState; error?: string }[] = [];

  constructor(private readonly log: Logger) {}

  add(module: HubModule): void {
    if (this.list.some((m) => m.module.name === module.name)) throw new Error(`two modules are named "${module.name}"`);
    this.list.push({ module, state: 'idle' });
  }

  names(): string[] {
    return this.list.map((m) => m.module.name);
  }

  /** Starts every module in order. Throws ModuleStartError when an essential one fails (the caller then stops the rest). */
  async start(): Promise<void> {
    for (const m of this.list) {
      const log = this.log.child({ mod: m.module.name });
      m.state = 'starting';
      try {
        await m.module.start();
        m.state = 'running';
        log.debug('module started');
      } catch (e) {
        m.state = 'failed';
        m.error = (e as Error)?.message ?? String(e);
        if (m.module.essential) throw new ModuleStartError(m.module.name, e);
        log.error({ err: e }, `module ${m.module.name} failed to start: the hub runs on without it`);
      }
    }
  }

  /** Stops what started, in reverse order; one module's failure to stop does not keep the others running. */
  async stop(): Promise<void> {
    for (const m of [...this.list].reverse()) {
      // A module that failed half-way through start may hold a port or a file: it is stopped too.
      if (m.state === 'idle' || m.state === 'stopped') continue;
      m.state = 'stopping';
      try {
        await m.module.stop();
        m.state = 'stopped';
      } catch (e) {
        m.state = 'failed';
        m.error = (e as Error)?.message ?? String(e);
        this.log.warn({ mod: m.module.name, err: e }, `module ${m.module.name} did not stop cleanly`);
      }
    }
  }

  /** Hands a reloaded config to every running module, in start order; one module's failure is logged and reported, the others still reload. */
  async reload(config: CenterConfig, changes: Changes): Promise<{ module: string; error: string }[]> {
    const failed: { module: string; error: string }[] = [];
    for (const m of this.list) {
      if (m.state !== 'running' || !m.module.reload) continue;
      try {
        await m.module.reload(config, changes);
      } catch (e) {
        failed.push({ module: m.module.name, error: (e as Error)?.message ?? String(e) });
        this.log.error({ mod: m.module.name, err: e }, `module ${m.module.name} could not take the new config; it runs on as it was`);
      }
    }
    return failed;
  }

  report(): ModuleReport[] {
    return this.list.map(({ module, state, error }) => {
      let h: ModuleHealth | undefined;
      let herr: string | undefined;
      if (state === 'running' && module.health) {
        try {
          h = module.health();
        } catch (e) {
          herr = `health check failed: ${(e as Error).message}`;
        }
      }
      return {
        name: module.name,
        state,
        essential: !!module.essential,
        ok: state === 'running' && !herr && (h?.ok ?? true),
        ...(error || herr ? { error: error ?? herr } : {}),
        ...(h?.summary ? { summary: h.summary } : {}),
        ...(h?.detail ? { detail: h.detail } : {}),
      };
    });
  }
}
