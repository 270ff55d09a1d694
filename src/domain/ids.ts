/** @module Resource ids: a prefix, then a time-ordered part, then randomness, so ids sort by creation. */

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/** SHA-256 in one native call: a quarter of node:crypto's createHash per id, on every delivery's path. */
const sha256 = (text: string): Uint8Array => Bun.SHA256.hash(text) as Uint8Array;

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

/**
 * The id of the delivery of an event to a webhook: the event's acceptance time, then 80 bits of
 * a hash of (customer, event, webhook). The same pair always gets the same id, so a delivery can
 * be written for the first time by its first attempt's outcome, by any dispatcher, without a
 * second row: whoever writes it, it is one row.
 */
export function deliveryIdFor(customerId: string, eventId: string, webhookId: string, acceptedAtMs: number): string {
  const digest = sha256(`${customerId}\u0000${eventId}\u0000${webhookId}`);
  let tail = "";
  for (let i = 0; i < 16; i++) tail += ALPHABET[digest[i]! & 31];
  return `del_${encode(acceptedAtMs, 10)}${tail}`;
}

/**
 * The least id a delivery of an event accepted at `acceptedAtMs` or later can have: every such id
 * sorts at or after it, every earlier event's before it (a time range of events is an id range).
 */
export function deliveryIdFloor(acceptedAtMs: number): string {
  return idFloor("del", acceptedAtMs);
}

/** The least id of `prefix` made at `ms` or later (by `newId`, or `deliveryIdFor` for `del`): a time range is an id range. */
export function idFloor(prefix: string, ms: number): string {
  return `${prefix}_${encode(ms, 10)}`;
}

/**
 * The Standard Webhooks message id (`webhook-id`) of an event: `msg_` + 26 base32 characters, the
 * first 130 bits of a SHA-256 of (customer, event id). One per event, the same for every webhook
 * it goes to, every attempt, manual retry and re-send after a crash (it is computed, never
 * stored), and unique across the deployment: event ids are unique only per customer, so two
 * customers' `evt_1` get two different message ids.
 */
export function messageIdFor(customerId: string, eventId: string): string {
  const digest = sha256(`${customerId}\u0000${eventId}`);
  let out = "";
  let bits = 0;
  let value = 0;
  for (let i = 0; out.length < 26; ) {
    if (bits < 5) {
      value = ((value << 8) | digest[i++]!) & 0xffff;
      bits += 8;
    }
    bits -= 5;
    out += ALPHABET[(value >> bits) & 31];
  }
  return `msg_${out}`;
}
