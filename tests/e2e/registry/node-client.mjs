// A WebhookRegistry client under Node (not Bun): @grpc/grpc-js + @grpc/proto-loader on the
// .proto file, as another team's backend would write it. Runs the full CRUD cycle, then
// `calls` concurrent GetWebhook calls, and prints one JSON line of what it saw.
// usage: node node-client.mjs <host:port> <token> <webhook url> [calls]
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const [address, token, url, callsArg] = process.argv.slice(2);
const calls = Number(callsArg ?? 0);
const protoDir = join(dirname(fileURLToPath(import.meta.url)), "../../../proto");
const definition = protoLoader.loadSync("hookrelay/webhook/v1/registry.proto", { includeDirs: [protoDir], keepCase: true, enums: String, defaults: true, longs: String });
const { WebhookRegistry } = grpc.loadPackageDefinition(definition).hookrelay.webhook.v1;
const client = new WebhookRegistry(address, grpc.credentials.createInsecure());
const auth = new grpc.Metadata();
auth.set("authorization", `Bearer ${token}`);

const call = (method, request) =>
  new Promise((resolve) => client[method](request, auth, (err, response) => resolve(err ? { error: { code: grpc.status[err.code], details: err.details } } : response)));

const out = { node: process.version };
const created = await call("CreateWebhook", { webhook: { url, event_types: ["node.created"], headers: { "x-from": "node" }, description: "from node" } });
out.created = created;
const id = created.webhook?.id;
out.got = await call("GetWebhook", { id });
out.secret = await call("GetWebhookSecret", { id });
out.listed = await call("ListWebhooks", { page_size: 1000 });
out.updated = await call("UpdateWebhook", { webhook: { id, event_types: ["node.updated"], status: "WEBHOOK_STATUS_DISABLED" }, update_mask: { paths: ["event_types", "status"] } });
out.rotated = await call("RotateSecret", { id });
if (calls > 0) {
  const began = performance.now();
  const results = await Promise.all(Array.from({ length: calls }, () => call("GetWebhook", { id })));
  out.bench = { calls, ms: Math.round(performance.now() - began), ok: results.filter((r) => r.webhook?.id === id).length };
}
out.deleted = await call("DeleteWebhook", { id });
out.gotAfterDelete = await call("GetWebhook", { id });
out.noToken = await new Promise((resolve) => client.GetWebhook({ id }, (err) => resolve(err ? grpc.status[err.code] : "OK")));
client.close();
console.log(JSON.stringify(out));
