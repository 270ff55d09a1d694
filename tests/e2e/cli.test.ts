// The command line: version, migrations, bad commands, and the compiled binary doing real work.

import { Database } from "bun:sqlite";
import { describe, expect, it } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createPool } from "../../src/adapters/postgres/client.ts";
import { MIGRATIONS } from "../../src/adapters/sqlite/migrations.ts";
import { adminToken, client, tempDir, waitFor } from "../helpers/hookrelay.ts";
import { alive, childInstance, childPids, portsAndEnv } from "../helpers/process.ts";
import { startReceiver } from "../helpers/receiver.ts";
import { schemaFactory, TEST_DATABASE_URL } from "../helpers/services.ts";

const ROOT = join(import.meta.dir, "../..");

function run(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawnSync(args, { cwd: ROOT, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env } });
  return { code: proc.exitCode, out: proc.stdout.toString(), err: proc.stderr.toString() };
}

describe("hookrelay CLI", () => {
  it("prints its version", () => {
    const { code, out } = run(["bun", "src/cli/main.ts", "version"]);
    expect(code).toBe(0);
    expect(out).toMatch(/^hookrelay \d+\.\d+\.\d+ \(bun 1\.\d+\.\d+\)/);
  });

  it("refuses an unknown command with exit 1 and the usage", () => {
    const { code, err } = run(["bun", "src/cli/main.ts", "fly"]);
    expect(code).toBe(1);
    expect(err).toContain("unknown command 'fly'");
    expect(err).toContain("migrate up|down|status");
  });

  it("refuses to start roles with only part of the production servers configured", () => {
    const { code, err } = run(["bun", "src/cli/main.ts", "all"], { HOOKRELAY_DATA_DIR: tempDir(), DATABASE_URL: "postgres://db/hr" });
    expect(code).toBe(1);
    expect(err.trim()).toBe("hookrelay: production mode needs database.url, redis.url and kafka.brokers together (DATABASE_URL, REDIS_URL, KAFKA_BROKERS); only database.url is set");
  });

  // Servers that cannot be reached yet are waited for (tests/e2e/backend-wait.test.ts); a URL no server could fix is not.
  it("refuses to start with one clear line when a production server's URL is malformed", () => {
    const { code, err } = run(["bun", "src/cli/main.ts", "gateway"], {
      HOOKRELAY_DATA_DIR: tempDir(),
      DATABASE_URL: "postgres://nobody:pw-not-shown@127.0.0.1:notaport/none",
      REDIS_URL: "redis://127.0.0.1:1",
      KAFKA_BROKERS: "127.0.0.1:1",
    });
    expect(code).toBe(1);
    expect(err.trim()).toBe("hookrelay: database.url (DATABASE_URL): not a valid URL (Invalid URL)");
  });

  it("applies, reports and reverts migrations", () => {
    const env = { HOOKRELAY_DATA_DIR: tempDir() };
    const names = MIGRATIONS.map((m) => `${m.version}_${m.name}`);
    expect(names.slice(0, 3)).toEqual(["1_init", "2_retention_indexes", "3_accounts"]);
    expect(run(["bun", "src/cli/main.ts", "migrate", "status"], env).out).toContain("1_init\tpending");
    const up = run(["bun", "src/cli/main.ts", "migrate", "up"], env).out;
    expect(up.trim().split("\n")).toEqual(names.map((n) => `applied ${n}`));
    expect(run(["bun", "src/cli/main.ts", "migrate", "up"], env).out).toContain("nothing to apply");
    expect(run(["bun", "src/cli/main.ts", "migrate", "status"], env).out).toMatch(/1_init\tapplied \d{4}-/);
    // down reverts the newest only, one at a time, and status shows where it stands.
    for (let k = names.length - 1; k >= 0; k--) {
      expect(run(["bun", "src/cli/main.ts", "migrate", "down"], env).out).toContain(`reverted ${names[k]}`);
      const status = run(["bun", "src/cli/main.ts", "migrate", "status"], env).out;
      expect(status).toContain(`${names[k]}\tpending`);
      if (k > 0) expect(status).toMatch(new RegExp(`${names[k - 1]}\\tapplied \\d{4}-`));
    }
    expect(run(["bun", "src/cli/main.ts", "migrate", "status"], env).out).toContain("1_init\tpending");
    // Over shards: every shard's file in step.
    const sharded = { HOOKRELAY_DATA_DIR: tempDir(), HOOKRELAY_DATABASE_SQLITE_SHARDS: "3" };
    expect(run(["bun", "src/cli/main.ts", "migrate", "up"], sharded).out).toContain("applied 5_delivery_state");
    for (const file of ["hookrelay.db", "shard-1.db", "shard-2.db"]) {
      const db = new Database(join(sharded.HOOKRELAY_DATA_DIR, file), { readonly: true });
      expect(db.query<{ n: number }, []>("SELECT max(version) AS n FROM schema_migrations").get()!.n).toBe(MIGRATIONS.length);
      db.close();
    }
    const bad = run(["bun", "src/cli/main.ts", "migrate", "sideways"], env);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("use up, down or status");
  }, 30_000);

  it("builds dist/hookrelay with bun build --compile, and the binary delivers like bun run", async () => {
    const build = run(["bun", "run", "build"]);
    expect(build.code).toBe(0);
    const binary = join(ROOT, "dist/hookrelay");
    expect(existsSync(binary)).toBe(true);
    expect(run([binary, "version"]).out).toMatch(/^hookrelay \d+\.\d+\.\d+/);

    const receiver = startReceiver();
    const hr = childInstance({}, [binary, "all"]);
    try {
      await hr.start();
      const api = client(hr.gateway, await adminToken(hr.gateway));
      await api("POST", "/api/v1/webhooks", { url: receiver.url("/bin"), event_types: ["bin.test"] });
      const sent = await client(hr.ingest, await adminToken(hr.gateway))("POST", "/events", { id: "evt_bin", type: "bin.test", source: "t", data: { ok: true } });
      expect(sent.status).toBe(202);
      await waitFor("delivery from the compiled binary", () => receiver.received.length === 1, 10_000);
      expect(JSON.parse(receiver.received[0]!.body)).toMatchObject({ id: "evt_bin", data: { ok: true } });
      hr.proc.kill("SIGTERM" as unknown as number);
      expect(await hr.proc.exited).toBe(0);

      // Over two shards, the binary starts itself again for each.
      const sharded = childInstance({ HOOKRELAY_DATABASE_SQLITE_SHARDS: "2" }, [binary, "all"]);
      await sharded.start();
      const shards = childPids(sharded.proc.pid);
      expect(shards.length).toBe(2);
      const token = await adminToken(sharded.gateway);
      await client(sharded.gateway, token)("POST", "/api/v1/webhooks", { url: receiver.url("/bin2"), event_types: ["bin.test"] });
      await Bun.sleep(300);
      expect((await client(sharded.ingest, token)("POST", "/events", { id: "evt_bin2", type: "bin.test", source: "t", data: {} })).status).toBe(202);
      await waitFor("delivery from the compiled binary's shards", () => receiver.received.some((r) => r.path === "/bin2"), 10_000);
      sharded.proc.kill("SIGTERM" as unknown as number);
      expect(await sharded.proc.exited).toBe(0);
    } finally {
      hr.proc?.kill(9);
      receiver.stop();
    }
  }, 120_000);
});

describe("migrate status", () => {
  it("says there is no database yet, creating neither the data directory nor the file", () => {
    const dataDir = join(tempDir(), "never-started");
    const status = run(["bun", "src/cli/main.ts", "migrate", "status"], { HOOKRELAY_DATA_DIR: dataDir });
    expect(status.code).toBe(0);
    expect(status.out.split("\n")[0]).toBe(`no database yet: ${join(dataDir, "hookrelay.db")} does not exist (\`hookrelay migrate up\` or starting hookrelay creates it); every migration is pending`);
    expect(status.out).toContain("1_init\tpending\n");
    expect(existsSync(dataDir)).toBe(false);
  });

  it("only reads an existing database: one without the migrations table stays without it", () => {
    const dataDir = tempDir();
    const file = join(dataDir, "hookrelay.db");
    const made = new Database(file);
    made.run("CREATE TABLE unrelated (x INTEGER)");
    made.close();
    const status = run(["bun", "src/cli/main.ts", "migrate", "status"], { HOOKRELAY_DATA_DIR: dataDir });
    expect(status.code).toBe(0);
    expect(status.out).toStartWith("1_init\tpending\n");
    const db = new Database(file, { readonly: true });
    expect(db.query("SELECT name FROM sqlite_master WHERE type = 'table'").all()).toEqual([{ name: "unrelated" }]);
    db.close();
  });
});

describe("migrate status on PostgreSQL", () => {
  const freshSchema = TEST_DATABASE_URL ? schemaFactory(TEST_DATABASE_URL) : undefined;
  it.skipIf(!freshSchema)("only reads: a schema never migrated stays without the migrations table, and a migrated one lists what was applied", async () => {
    const { schema, url } = await freshSchema!();
    const tables = async () => {
      const sql = createPool({ url: TEST_DATABASE_URL!, maxConnections: 1 });
      try {
        return (await sql<{ name: string }[]>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ${schema}`).map((t) => t.name);
      } finally {
        await sql.end();
      }
    };
    const status = run(["bun", "src/cli/main.ts", "migrate", "status"], { HOOKRELAY_DATABASE_URL: url });
    expect({ code: status.code, err: status.err }).toEqual({ code: 0, err: "" });
    expect(status.out).toStartWith("1_init\tpending\n");
    expect(await tables()).toEqual([]);

    expect(run(["bun", "src/cli/main.ts", "migrate", "up"], { HOOKRELAY_DATABASE_URL: url }).code).toBe(0);
    const after = run(["bun", "src/cli/main.ts", "migrate", "status"], { HOOKRELAY_DATABASE_URL: url });
    expect(after.out).toMatch(/^1_init\tapplied /);
    expect(after.out).not.toContain("pending");
  });
});

describe("startup output", () => {
  /** What `command` (hookrelay, or a wrapper that starts it) writes to stdout until `ready` says so; then `target(pid)` gets SIGTERM. */
  async function startAndStop(command: string[], env: Record<string, string>, ready: (out: string) => boolean, target: (pid: number) => number) {
    const proc = Bun.spawn(command, { cwd: ROOT, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }, stdout: "pipe", stderr: "pipe" });
    let out = "";
    const reading = (async () => {
      for await (const chunk of proc.stdout) out += new TextDecoder().decode(chunk);
    })();
    let pid: number | undefined;
    try {
      await waitFor(
        () => `startup output; so far: ${out}`,
        () => ready(out),
        20_000,
        50,
      );
      pid = target(proc.pid);
      process.kill(pid, "SIGTERM");
      await proc.exited;
      await reading;
    } finally {
      proc.kill(9);
      if (pid !== undefined && alive(pid)) process.kill(pid, 9);
    }
    return out;
  }

  it("is JSON only when stdout is not a terminal: log collectors read every line", async () => {
    const { env } = portsAndEnv({ HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "info" });
    const out = await startAndStop(
      ["bun", "src/cli/main.ts", "all"],
      env,
      (text) => text.includes('"msg":"hookrelay started"'),
      (pid) => pid,
    );
    const lines = out.split("\n").filter(Boolean);
    expect(lines.length).toBeGreaterThan(5);
    const notJson = lines.filter((line) => {
      try {
        return typeof JSON.parse(line) !== "object";
      } catch {
        return true;
      }
    });
    expect(notJson).toEqual([]);
  });

  // `script` gives the process a terminal for its stdout, as a person starting it has.
  it.skipIf(!Bun.which("script"))("says in plain lines where each listener is and what is there when stdout is a terminal", async () => {
    const { ports, env } = portsAndEnv();
    const out = await startAndStop(
      ["script", "-qefc", "exec bun src/cli/main.ts all", "/dev/null"],
      env,
      (text) => text.includes("(dashboard: /)"),
      // Under `script`, hookrelay is its one child (exec'd by its shell).
      (pid) => childPids(pid)[0]!,
    );
    const lines = out.split(/\r?\n/).filter((line) => !line.startsWith("{") && line.trim() !== "");
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(new RegExp(`^gateway +http://127\\.0\\.0\\.1:${ports.gateway} +\\(REST API: /api/v1, API docs: /docs\\)$`));
    expect(lines[1]).toMatch(new RegExp(`^registry +127\\.0\\.0\\.1:${ports.registry} +\\(gRPC WebhookRegistry\\)$`));
    expect(lines[5]).toMatch(new RegExp(`^observability http://127\\.0\\.0\\.1:${ports.observability} +\\(dashboard: /\\)$`));
  });
});

describe("ports", () => {
  it("refuses to start on a port another instance holds, saying which, with exit 1", async () => {
    const first = childInstance({}, ["bun", "src/cli/main.ts", "gateway"]);
    await first.start();
    try {
      const second = run(["bun", "src/cli/main.ts", "gateway"], first.env);
      expect(second.code).toBe(1);
      expect(second.err.trim()).toBe(`hookrelay: gateway: cannot listen on 127.0.0.1:${new URL(first.gateway).port}: the port is in use`);
    } finally {
      first.proc.kill(9);
    }
  });

  it("over shards, refuses to start on a port another instance holds, saying which, with exit 1", async () => {
    const first = childInstance({}, ["bun", "src/cli/main.ts", "gateway"]);
    await first.start();
    try {
      const second = run(["bun", "src/cli/main.ts", "all"], { ...first.env, HOOKRELAY_DATA_DIR: tempDir(), HOOKRELAY_DATABASE_SQLITE_SHARDS: "2" });
      expect(second.code).toBe(1);
      expect(second.err).toContain(`hookrelay: gateway: cannot listen on 127.0.0.1:${new URL(first.gateway).port}: the port is in use`);
    } finally {
      first.proc.kill(9);
    }
  });

  it("shuts down once on a repeated signal, draining instead of dying", async () => {
    const hr = childInstance({ HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "info" });
    await hr.start();
    hr.proc.kill("SIGINT" as unknown as number);
    hr.proc.kill("SIGINT" as unknown as number);
    expect(await hr.proc.exited).toBe(0);
    await waitFor("final log line", () => hr.output().includes('"msg":"stopped"'), 10_000);
  });
});
