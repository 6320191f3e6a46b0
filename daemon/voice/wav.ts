/**
 * The little of WAV a clip pack needs: 16-bit PCM, mono, read and written
 * by hand (a RIFF header and samples), trimmed of the silence recorders and
 * speech synthesizers leave at both ends, joined with exact pauses.
 */
import { endianness } from 'node:os';

export interface Pcm {
  rate: number;
  /** Mono 16-bit samples. */
  samples: Int16Array;
}

export class WavError extends Error {}

const LE = endianness() === 'LE';

/**
 * Reads a RIFF/WAVE file of 16-bit PCM, mono; anything else is refused with
 * what it is and how to convert it. The samples may share memory with `buf`.
 */
export function readWav(buf: Buffer): Pcm {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new WavError('not a WAV file (no RIFF/WAVE header)');
  let off = 12;
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buf.length) throw new WavError('truncated fmt chunk');
      fmt = { format: buf.readUInt16LE(body), channels: buf.readUInt16LE(body + 2), rate: buf.readUInt32LE(body + 4), bits: buf.readUInt16LE(body + 14) };
    } else if (id === 'data') {
      if (!fmt) throw new WavError('data before fmt chunk');
      // WAVE_FORMAT_EXTENSIBLE (0xFFFE) with 16-bit PCM is the same samples.
      if ((fmt.format !== 1 && fmt.format !== 0xfffe) || fmt.bits !== 16 || fmt.channels !== 1)
        throw new WavError(`${fmt.channels} channel(s), ${fmt.bits}-bit, format ${fmt.format}: clips must be 16-bit PCM mono (sox in.wav -c 1 -b 16 out.wav)`);
      // espeak-ng writes 0xFFFFFFFF as the size when it streams; take what is there.
      const end = Math.min(buf.length, size === 0xffffffff ? buf.length : body + size);
      const n = Math.floor((end - body) / 2);
      let samples: Int16Array;
      if (LE && (buf.byteOffset + body) % 2 === 0) {
        // A view on the file's bytes, no copy (WAV data is little-endian, as is every machine qhub runs on): whoever keeps the samples copies them (trim does).
        samples = new Int16Array(buf.buffer, buf.byteOffset + body, n);
      } else {
        samples = new Int16Array(n);
        for (let i = 0; i < n; i++) samples[i] = buf.readInt16LE(body + 2 * i);
      }
      return { rate: fmt.rate, samples };
    }
    off = body + size + (size & 1);
  }
  throw new WavError('no data chunk');
}

export function writeWav(p: Pcm): Buffer {
  const data = p.samples.length * 2;
  const b = Buffer.alloc(44 + data);
  b.write('RIFF', 0, 'ascii');
  b.writeUInt32LE(36 + data, 4);
  b.write('WAVE', 8, 'ascii');
  b.write('fmt ', 12, 'ascii');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(p.rate, 24);
  b.writeUInt32LE(p.rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'ascii');
  b.writeUInt32LE(data, 40);
  if (LE) Buffer.from(p.samples.buffer, p.samples.byteOffset, p.samples.byteLength).copy(b, 44);
  else for (let i = 0; i < p.samples.length; i++) b.writeInt16LE(p.samples[i]!, 44 + 2 * i);
  return b;
}

/** Below this (about -40 dBFS) a sample counts as silence. */
export const SILENCE = 330;

/**
 * Cuts the silence at both ends, keeping `marginMs` of it so a word's
 * breath-in and fade-out stay; a clip of only silence stays one margin long.
 * Always a copy, exactly as long as what is kept.
 */
export function trim(p: Pcm, marginMs = 10): Pcm {
  const s = p.samples;
  let a = 0;
  while (a < s.length && Math.abs(s[a]!) < SILENCE) a++;
  let z = s.length - 1;
  while (z > a && Math.abs(s[z]!) < SILENCE) z--;
  const m = Math.round((p.rate * marginMs) / 1000);
  if (a >= s.length) return { rate: p.rate, samples: new Int16Array(m) };
  return { rate: p.rate, samples: s.slice(Math.max(0, a - m), Math.min(s.length, z + 1 + m)) };
}

/** Joins clips into one buffer, `gapsMs[i]` of silence after clip i (the last gap is not added). */
export function join(rate: number, clips: readonly Int16Array[], gapsMs: readonly number[]): Pcm {
  const gap = (i: number) => Math.round((rate * (gapsMs[i] ?? 0)) / 1000);
  let n = 0;
  clips.forEach((c, i) => (n += c.length + (i < clips.length - 1 ? gap(i) : 0)));
  const out = new Int16Array(n);
  let at = 0;
  clips.forEach((c, i) => {
    out.set(c, at);
    at += c.length + (i < clips.length - 1 ? gap(i) : 0);
  });
  return { rate, samples: out };
}

/** A two-note attention chime (E6 then C6), with soft edges so it does not click. */
export function chime(rate: number): Pcm {
  const notes = [
    { hz: 1318.5, ms: 260 },
    { hz: 1046.5, ms: 420 },
  ];
  const parts = notes.map(({ hz, ms }) => {
    const n = Math.round((rate * ms) / 1000);
    const s = new Int16Array(n);
    const attack = Math.round(rate * 0.01);
    for (let i = 0; i < n; i++) {
      const env = Math.min(1, i / attack) * Math.exp((-3 * i) / n);
      s[i] = Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * env * 0.5 * 32767);
    }
    return s;
  });
  return join(rate, parts, [30]);
}

export const durationMs = (p: Pcm): number => Math.round((p.samples.length * 1000) / p.rate);
