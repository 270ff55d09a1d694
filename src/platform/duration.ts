/** @module Durations in config are strings: `250ms`, `1s`, `5m`, `1h`, `30d`. */

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export const DURATION_PATTERN = DURATION.source;

/** Milliseconds in a duration string; throws on anything that is not one. */
export function durationMs(text: string): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new Error(`'${text}' is not a duration (use e.g. 100ms, 1s, 5m, 1h, 30d)`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2]!]!);
}
