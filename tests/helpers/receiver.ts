/** @module A real HTTP receiver on loopback that records every webhook it gets. */

export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

export type Responder = (req: Received, countForPath: number) => Response | Promise<Response>;

export interface Receiver {
  url(path: string): string;
  received: Received[];
  /** Deliveries per `${path} ${event id}` (webhook-id is derived from the customer and event id, one to one). */
  counts(): Map<string, number>;
  onPath(path: string, responder: Responder): void;
  stop(): void;
}

/** The event id of a delivered body (the event as ingest stored it). */
export const eventIdOf = (body: string) => (JSON.parse(body) as { id: string }).id;

export function startReceiver(): Receiver {
  const received: Received[] = [];
  const responders = new Map<string, Responder>();
  const perPath = new Map<string, number>();
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 120,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      const item: Received = { path, headers: Object.fromEntries(request.headers), body: await request.text(), at: Date.now() };
      const n = (perPath.get(path) ?? 0) + 1;
      perPath.set(path, n);
      received.push(item);
      const responder = responders.get(path);
      return responder ? responder(item, n) : new Response("ok");
    },
  });
  return {
    url: (path) => `http://127.0.0.1:${server.port}${path}`,
    received,
    counts() {
      const counts = new Map<string, number>();
      for (const r of received) {
        const key = `${r.path} ${eventIdOf(r.body)}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      return counts;
    },
    onPath: (path, responder) => responders.set(path, responder),
    stop: () => server.stop(true),
  };
}
