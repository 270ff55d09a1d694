/**
 * @module Generators of ingest sequences (fast-check) for the no-loss guarantee, shared by the
 * end-to-end property (tests/e2e/no-loss.property.test.ts) and the adapters' contract properties:
 * single events and batches whose ids are new, repeated from earlier requests and repeated inside
 * one batch, for several customers, with process disruptions between them.
 *
 * An id's type (and so which webhooks match it) is a function of the id, so a repeated id always
 * means the same event: the oracle never has to guess which copy was stored.
 */
import fc from "fast-check";

export const TYPES = ["order.created", "order.paid", "invoice.sent"] as const;
/** Ids per customer: few enough that repeats are common. */
export const ID_POOL = 10;
export const CUSTOMERS = 2;

export const typeOf = (id: string) => TYPES[Number(id.slice(1)) % TYPES.length]!;

export interface IngestStep {
  kind: "ingest";
  customer: number;
  ids: string[];
  /** A lone id through `POST /events` rather than a one-event batch. */
  single: boolean;
}

export interface DisruptionStep {
  /** A process stopped (and started again), or a backend server restarted under it. */
  kind: "sigterm" | "kill9" | "restart-backend";
  /** Which process (production: a role) or backend is hit; embedded has one process and no backend. */
  target: number;
  /** How long after the requests before it were sent, ms (they may still be in flight). */
  afterMs: number;
}

export type Step = IngestStep | DisruptionStep;

const idArb = fc.integer({ min: 0, max: ID_POOL - 1 }).map((i) => `e${i}`);

export const ingestStep: fc.Arbitrary<IngestStep> = fc.record({
  kind: fc.constant("ingest" as const),
  customer: fc.integer({ min: 0, max: CUSTOMERS - 1 }),
  ids: fc.array(idArb, { minLength: 1, maxLength: 6 }),
  single: fc.boolean(),
});

export function disruptionStep(targets: number, backends = 0): fc.Arbitrary<DisruptionStep> {
  const process = fc.record({
    kind: fc.constantFrom("sigterm" as const, "kill9" as const),
    target: fc.integer({ min: 0, max: targets - 1 }),
    afterMs: fc.integer({ min: 0, max: 40 }),
  });
  if (backends === 0) return process;
  const backend = fc.record({ kind: fc.constant("restart-backend" as const), target: fc.integer({ min: 0, max: backends - 1 }), afterMs: fc.integer({ min: 0, max: 40 }) });
  return fc.oneof({ weight: 3, arbitrary: process }, { weight: 1, arbitrary: backend });
}

/** A sequence: mostly ingests, now and then a disruption (none when `targets` is 0). */
export function steps(targets: number, maxLength = 12, backends = 0): fc.Arbitrary<Step[]> {
  const step: fc.Arbitrary<Step> = targets > 0 ? fc.oneof({ weight: 3, arbitrary: ingestStep }, { weight: 1, arbitrary: disruptionStep(targets, backends) }) : ingestStep;
  return fc.array(step, { minLength: 2, maxLength });
}

/** The outcome of each id in append order: accepted the first time it is seen, a duplicate after. */
export function expectedOutcomes(batches: string[][]): ("accepted" | "duplicate")[][] {
  const seen = new Set<string>();
  return batches.map((ids) =>
    ids.map((id) => {
      if (seen.has(id)) return "duplicate";
      seen.add(id);
      return "accepted";
    }),
  );
}
