/**
 * The door before the MQTT parser. Aedes reads a whole packet into memory
 * before any hook runs, so sizes are checked here, on the raw bytes, as they
 * arrive: the first packet must be a CONNECT of bounded size, every later one
 * at most the configured payload limit plus room for its topic and headers.
 * A connection that breaks this is closed after its first bytes, before the
 * rest of a huge packet is read.
 */

/** Room for a PUBLISH's topic, packet id and headers beyond its payload. */
export const HEADER_ROOM = 1024;
/** A CONNECT carries a client id, a username, a password and a small will: 4 KiB is plenty. */
export const MAX_CONNECT_BYTES = 4096;

export class PacketGuard {
  private first = true;
  /** Bytes of the current packet's body still to skip. */
  private skip = 0;
  private header: number[] = [];

  constructor(private readonly maxPacketBytes: number) {}

  /** Feeds received bytes; returns why the connection must close, or undefined. */
  feed(chunk: Buffer): string | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      this.header.push(chunk[i++]!);
      if (this.header.length === 1) {
        const type = this.header[0]! >> 4;
        if (this.first && type !== 1) return `the first packet must be CONNECT, not type ${type}`;
        continue;
      }
      const byte = this.header[this.header.length - 1]!;
      if (byte & 0x80) {
        if (this.header.length > 4) return 'malformed packet length';
        continue;
      }
      let length = 0;
      for (let k = this.header.length - 1; k >= 1; k--) length = length * 128 + (this.header[k]! & 0x7f);
      const limit = this.first ? MAX_CONNECT_BYTES : this.maxPacketBytes;
      if (length > limit) return `${this.first ? 'CONNECT' : 'packet'} of ${length} bytes, over the limit of ${limit}`;
      this.first = false;
      this.header = [];
      this.skip = length;
    }
    return undefined;
  }
}
