/**
 * What a frame driver (Modbus, DFPlayer, ESC/POS, Firmata, line protocol)
 * needs from the line under it: bytes out, bytes in, and whether the line
 * is there. `SerialLine` (./line.ts) is the real one over serialport 13;
 * tests may give a driver any object of this shape.
 */
export interface ByteLink {
  /** True while the port is open (the device is plugged in). */
  readonly isOpen: boolean;
  /**
   * Writes bytes. Resolves once they were handed to the OS (drained).
   * While the line is away the write waits in a bounded queue and is sent
   * on reconnect; `key`: a later write with the same key replaces a queued
   * one (a display's newest state wins). Rejects (with a reason) when the
   * queue overflows, the write cannot be made, or the line is closed for
   * good: never silently lost.
   */
  write(data: Buffer, opts?: { key?: string }): Promise<void>;
  /** Bytes as they arrive; returns an unsubscribe function. */
  onData(fn: (chunk: Buffer) => void): () => void;
  /** Open (true) / gone (false) transitions; returns an unsubscribe function. */
  onState(fn: (open: boolean) => void): () => void;
  /** Drops input not yet read (e.g. before a request that expects a fresh answer). */
  flushInput?(): void;
}
