// The loss a user found in the default deployment: a batch holding an id sent before used up a
// position in the embedded log, the dispatcher's in-memory copy of the log assumed it did not,
// and the first event of every later batch was never delivered (nor after a restart). Replayed
// here as the user did it, in both deployments, then across a restart. Each answer names the
// duplicates' ids.
import { describe, expect, it } from "bun:test";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { fileScope } from "../helpers/process.ts";
import { eventIdOf } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const scope = fileScope();

describe.each(MODES)("a batch repeating an earlier id (%s)", (mode) => {
  it("loses none of the events accepted after it, before or after a restart", async () => {
    const receiver = scope.receiver();
    const hr = scope.child(await modeEnv(mode));
    await hr.start();
    const token = await adminToken(hr.gateway);
    const api = client(hr.gateway, token);
    const ingest = client(hr.ingest, token);
    expect((await api("POST", "/api/v1/webhooks", { url: receiver.url("/all"), event_types: ["*"] })).status).toBe(201);
    const event = (id: string) => ({ id, type: "order.created", source: "shop", data: { id } });

    expect((await ingest("POST", "/events", event("m1"))).status).toBe(202);
    const mixed = await ingest("POST", "/events/batch", { events: ["k1", "m1", "k2"].map(event) });
    expect(mixed.status).toBe(202);
    expect(mixed.body).toEqual({ accepted: 2, duplicates: 1, duplicate_ids: ["m1"], matched_webhooks: 2, unmatched_ids: [] });
    const later = Array.from({ length: 5 }, (_, b) => [0, 1, 2].map((i) => `b${b}_${i}`));
    for (const ids of later)
      expect((await ingest("POST", "/events/batch", { events: ids.map(event) })).body).toEqual({ accepted: 3, duplicates: 0, duplicate_ids: [], matched_webhooks: 3, unmatched_ids: [] });
    // The same pattern again, the duplicate repeated inside the batch too (named once per repeat, in
    // the batch's order), then across a restart.
    expect((await ingest("POST", "/events/batch", { events: ["m1", "x1", "x1", "k1", "x2"].map(event) })).body).toEqual({
      accepted: 2,
      duplicates: 3,
      duplicate_ids: ["m1", "x1", "k1"],
      matched_webhooks: 2,
      unmatched_ids: [],
    });
    const accepted = ["m1", "k1", "k2", ...later.flat(), "x1", "x2"];

    const delivered = () => new Set(receiver.received.map((r) => eventIdOf(r.body)));
    await waitFor("every accepted event delivered", () => accepted.every((id) => delivered().has(id)), 30_000, 50);
    // Outcomes are recorded in the background, a few ms after the answer came in.
    const recorded = async (id: string) => {
      const stored = await api("GET", `/api/v1/events/${id}`);
      return stored.status === 200 && stored.body.deliveries.length > 0 ? stored.body : null;
    };
    await waitFor("every delivery's outcome recorded", async () => (await Promise.all(accepted.map(recorded))).every((body) => body !== null), 10_000, 50);
    for (const id of accepted) expect((await recorded(id)).deliveries.map((d: { status: string }) => d.status)).toEqual(["succeeded"]);

    hr.proc.kill("SIGTERM");
    expect(await hr.proc.exited).toBe(0);
    await hr.start();
    const after = Array.from({ length: 3 }, (_, b) => ["k2", `r${b}_0`, `r${b}_1`]);
    for (const ids of after)
      expect((await ingest("POST", "/events/batch", { events: ids.map(event) })).body).toEqual({ accepted: 2, duplicates: 1, duplicate_ids: ["k2"], matched_webhooks: 2, unmatched_ids: [] });
    const all = [...accepted, ...after.flatMap((ids) => ids.slice(1))];
    await waitFor("every event accepted after the restart delivered", () => all.every((id) => delivered().has(id)), 30_000, 50);
    await Bun.sleep(300); // anything sent twice would arrive now
    expect(receiver.received.length).toBe(all.length);
  });
});
