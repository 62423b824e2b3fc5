// Unsigned LEB128 varints, as Go's encoding/binary Uvarint writes them (the LTX page index).

export function appendUvarint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** Writes `value` at `offset` (room for 10 bytes is the caller's) and returns the offset past it. */
export function writeUvarint(buf: Buffer, offset: number, value: number): number {
  let v = value;
  let at = offset;
  while (v >= 0x80) {
    buf[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[at++] = v;
  return at;
}

/** Returns the value and the offset just past it, or throws on a truncated or oversized varint. */
export function readUvarint(buf: Buffer, offset: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = offset; i < buf.length && i < offset + 10; i++) {
    const byte = buf[i]!;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) {
      if (!Number.isSafeInteger(value)) throw new Error('varint out of range');
      return { value, next: i + 1 };
    }
    scale *= 0x80;
  }
  throw new Error('truncated varint');
}
