/** @module Resource ids: a prefix, then a time-ordered part, then randomness, so ids sort by creation. */

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

function encode(value: number, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) {
    out = ALPHABET[value % 32] + out;
    value = Math.floor(value / 32);
  }
  return out;
}

/** `newId("wh")` → `wh_01jz3…`: 10 chars of milliseconds, 16 random chars (80 bits). */
export function newId(prefix: string, nowMs: number = Date.now()): string {
  const random = crypto.getRandomValues(new Uint8Array(16));
  let tail = "";
  for (const byte of random) tail += ALPHABET[byte & 31];
  return `${prefix}_${encode(nowMs, 10)}${tail}`;
}
