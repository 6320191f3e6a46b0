/**
 * The wired transport: devices on serial lines and Firmata boards. It owns
 * the lines (one per path, shared by the devices of an RS-485 bus, reopened
 * when a cable comes back), hands each device's model codec its drivers,
 * and reports what the codecs hear to the device hub exactly as the MQTT
 * transport does: requests with the protocol's bodies, online/offline, and
 * the device's condition. It knows no model by name: a model's definition
 * (devices/) says how hub messages become bytes.
 *
 * Owns: the serial lines, the Modbus masters, the opened wired devices.
 * May touch: the device links (registers as the `serial` and `firmata`
 * transport), the device hub through its LinkListener.
 */
import type { Logger } from 'pino';
import type { CenterConfig, DeviceConfig } from '../../config/schema.js';
import { modelOf, type InLeaf, type OutLeaf } from '../../devices/index.js';
import type { WiredCondition, WiredDevice, WiredIo } from '../../devices/model.js';
import { ModbusBus } from '../../drivers/modbus.js';
import type { SerialLine } from '../../drivers/serial/line.js';
import type { DeviceLink, LinkListener, OutMessage, Transport } from '../../contract/devices.js';
import type { HubContext } from '../spine/context.js';
import type { HubModule, ModuleHealth } from '../spine/module.js';

type LineSpec = { path: string; baud: number; framing: string };

/** `8N1` → serialport's open options. */
export function framingOf(f: string): { dataBits: 5 | 6 | 7 | 8; parity: 'none' | 'even' | 'odd' | 'mark' | 'space'; stopBits: 1 | 1.5 | 2 } {
  const m = /^([5-8])([NEOMS])(1|1\.5|2)$/.exec(f);
  if (!m) throw new Error(`framing "${f}": expected data bits, parity and stop bits like 8N1`);
  const parity = ({ N: 'none', E: 'even', O: 'odd', M: 'mark', S: 'space' } as const)[m[2] as 'N' | 'E' | 'O' | 'M' | 'S'];
  return { dataBits: Number(m[1]) as 5 | 6 | 7 | 8, parity, stopBits: Number(m[3]) as 1 | 1.5 | 2 };
}

export class WiredTransport implements HubModule, Transport {
  readonly name = 'wired';
  readonly types = ['serial', 'firmata'] as const;
  private readonly log: Logger;
  private readonly lines = new Map<string, SerialLine>();
  private readonly buses = new Map<string, ModbusBus>();
  private readonly opened = new Map<string, WiredDevice>();
  private devices: DeviceConfig[];
  private listener?: LinkListener;
  /** The serial paths each device's codec opened (a line is closed when no device uses it any more). */
  private readonly uses = new Map<string, Set<string>>();
  /** serialport and its native binding (about 13 MiB resident) are loaded only by a hub that has wired devices. */
  private Line?: typeof SerialLine;

  constructor(private readonly ctx: HubContext) {
    this.log = ctx.log.child({ mod: 'wired' });
    this.devices = ctx.config.devices.filter((d) => d.enabled && (this.types as readonly string[]).includes(d.transport.type));
  }

  async start(): Promise<void> {
    this.Line = (await import('../../drivers/serial/line.js')).SerialLine;
    this.ctx.links.register(this);
    for (const d of this.devices) {
      const codec = modelOf(d).wired;
      if (!codec) {
        // check-config refuses this; a config that skipped it still must not take the hub down.
        this.log.error({ device: d.id, model: d.model }, `model ${d.model} cannot be wired: the device stays offline`);
        continue;
      }
      try {
        this.opened.set(d.id, codec.open(this.io(d)));
      } catch (e) {
        this.log.error({ device: d.id, err: (e as Error).message }, 'wired device could not be opened; it stays offline');
      }
    }
    for (const l of this.lines.values()) l.start();
    this.log.info({ devices: this.opened.size, lines: this.lines.size }, 'wired devices opened');
  }

  async stop(): Promise<void> {
    for (const [id, w] of this.opened) await w.stop().catch((e: Error) => this.log.warn({ device: id, err: e.message }, 'wired device did not stop cleanly'));
    this.opened.clear();
    await Promise.all([...this.lines.values()].map((l) => l.stop()));
    this.lines.clear();
  }

  listen(listener: LinkListener | undefined): void {
    this.listener = listener;
  }

  link(device: DeviceConfig): DeviceLink {
    return {
      device,
      send: (m: OutMessage) => {
        const w = this.opened.get(device.id);
        if (!w) return;
        try {
          w.send(m);
        } catch (e) {
          this.log.error({ device: device.id, leaf: m.leaf, err: (e as Error).message }, 'wired device refused a message');
        }
      },
    };
  }

  health(): ModuleHealth {
    const lines = [...this.lines.values()].map((l) => l.stats());
    const devices = Object.fromEntries([...this.opened].map(([id, w]) => [id, w.health?.() ?? {}]));
    return { ok: true, summary: { lines: { open: lines.filter((l) => l.open).length, total: lines.length } }, detail: { lines, devices } };
  }

  // ------------------------------------------------------------------

  private lineOf(spec: LineSpec, device?: string): SerialLine {
    if (device) {
      let u = this.uses.get(device);
      if (!u) this.uses.set(device, (u = new Set()));
      u.add(spec.path);
    }
    let l = this.lines.get(spec.path);
    if (!l) {
      l = new this.Line!(
        { path: spec.path, baudRate: spec.baud, ...framingOf(spec.framing) },
        this.log.child({ line: spec.path }),
      );
      this.lines.set(spec.path, l);
    }
    return l;
  }

  private io(d: DeviceConfig): WiredIo {
    const t = d.transport;
    const log = this.log.child({ device: d.id });
    const main = (): LineSpec => {
      if (t.type === 'serial') return { path: t.path, baud: t.baud, framing: t.framing };
      if (t.type === 'firmata') return { path: t.path, baud: t.baud, framing: '8N1' };
      throw new Error(`device ${d.id} is not wired`);
    };
    let online = false;
    let last = '';
    return {
      device: d,
      log,
      line: () => this.lineOf(main(), d.id),
      lineAt: (spec) => this.lineOf(spec, d.id),
      modbus: () => {
        const spec = main();
        this.lineOf(spec, d.id);
        let bus = this.buses.get(spec.path);
        if (!bus) this.buses.set(spec.path, (bus = new ModbusBus(this.lineOf(spec))));
        return bus;
      },
      request: async (leaf: InLeaf, body: Record<string, unknown>) => {
        const l = this.listener;
        if (!l) throw new Error('the hub is not taking requests (starting or stopping)');
        await l.request(d, leaf, Buffer.from(JSON.stringify(body)));
      },
      online: (c: WiredCondition = {}) => {
        // Reported again on every change of condition (a printer out of paper), not on every poll.
        const key = JSON.stringify(c);
        if (online && key === last) return;
        const was = online;
        online = true;
        last = key;
        if (!was) log.info({ ...c }, 'wired device online');
        else log.info({ ...c }, 'wired device condition changed');
        this.listener?.online(d, c);
      },
      offline: (why?: string) => {
        if (!online) return;
        online = false;
        last = '';
        log.warn({ why }, 'wired device offline');
        this.listener?.offline(d, why);
      },
      wantsState: () => this.listener?.wantsState(d),
    };
  }
}
