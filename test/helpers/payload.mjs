// The deterministic payload of transaction n, shared by the writers (Python has the same rule) and
// the oracle: a 256-byte ramp starting at n % 256, repeated to the transaction's size.

export function payloadSize(n, kind) {
  if (kind === 'mixed') {
    if (n === 25) return 10 * 1024 * 1024;
    return [10, 4096, 100_000, 1_000_000, 300][n % 5];
  }
  return 100 + (n % 7) * 50;
}

export function payloadFor(n, kind) {
  const size = payloadSize(n, kind);
  const ramp = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) ramp[i] = (n + i) % 256;
  const out = Buffer.alloc(size);
  for (let off = 0; off < size; off += 256) ramp.copy(out, off, 0, Math.min(256, size - off));
  return out;
}
