/**
 * @module The webhooks of each end-to-end scenario (b)–(g) and where its events go: which sink
 * paths (and ports) the webhooks point at, the event type of event n, and how many healthy
 * deliveries event n must produce.
 */

export type E2EScenario = "embedded" | "production" | "fan-out" | "isolation" | "origins" | "soak";

export interface Layout {
  /** Extra listening ports the sink needs (origins). */
  sinkPorts: number;
  /** The webhooks to create: sink port index (−1: the main port), path, event types. */
  webhooks: { port: number; path: string; types: string[] }[];
  type(n: number): string;
  /** Deliveries event n must reach at healthy paths (not /fail/, not /slow/). */
  healthyTargets(n: number): number;
}

const FAN_OUT = 10;
const ISOLATION = 100;
const FAILING = 5;
const ORIGINS = 1000;

export function layout(scenario: E2EScenario): Layout {
  switch (scenario) {
    case "fan-out":
      return {
        sinkPorts: 0,
        webhooks: Array.from({ length: FAN_OUT }, (_, i) => ({ port: -1, path: `/h/f${i}`, types: ["bench.fan"] })),
        type: () => "bench.fan",
        healthyTargets: () => FAN_OUT,
      };
    case "isolation":
      // 5% of the webhooks at a path answering 500, the next one at a path answering after 5 s;
      // events spread evenly over the 100 event types, one webhook each.
      return {
        sinkPorts: 0,
        webhooks: Array.from({ length: ISOLATION }, (_, i) => ({
          port: -1,
          path: i < FAILING ? `/fail/w${i}` : i === FAILING ? `/slow/w${i}` : `/h/w${i}`,
          types: [`bench.iso.${i}`],
        })),
        type: (n) => `bench.iso.${n % ISOLATION}`,
        healthyTargets: (n) => (n % ISOLATION > FAILING ? 1 : 0),
      };
    case "origins":
      return {
        sinkPorts: ORIGINS,
        webhooks: Array.from({ length: ORIGINS }, (_, i) => ({ port: i, path: `/h/o${i}`, types: [`bench.origin.${i}`] })),
        type: (n) => `bench.origin.${n % ORIGINS}`,
        healthyTargets: () => 1,
      };
    default:
      return { sinkPorts: 0, webhooks: [{ port: -1, path: "/h/w0", types: ["bench.e2e"] }], type: () => "bench.e2e", healthyTargets: () => 1 };
  }
}
