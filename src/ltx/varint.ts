// Unsigned LEB128 varints, as Go's encoding/binary Uvarint writes them (the LTX page index).

export function appendUvarint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
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
