/** @module hookrelay as a child process (for kill -9 and SIGTERM tests), on free ports. */
import { afterAll } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import type { Subprocess } from "bun";
import { adminToken, client, freePorts, testEnv, waitFor } from "./hookrelay.ts";
import { type Receiver, startReceiver } from "./receiver.ts";

export interface ChildInstance {
  env: Record<string, string>;
  gateway: string;
  ingest: string;
  proc: Subprocess;
  output(): string;
  start(): Promise<void>;
}

export type Ports = Record<"gateway" | "registry" | "ingest" | "dispatcher" | "retry" | "observability", number>;

/** A free port per role, and a test environment (fresh data dir) that uses them. */
export function portsAndEnv(overrides: Record<string, string> = {}): { ports: Ports; env: Record<string, string> } {
  const [gateway, registry, ingest, dispatcher, retry, observability] = freePorts(6) as [number, number, number, number, number, number];
  const ports: Ports = { gateway, registry, ingest, dispatcher, retry, observability };
  const portVars = Object.fromEntries(Object.entries(ports).map(([role, port]) => [`HOOKRELAY_SERVER_${role.toUpperCase()}_PORT`, String(port)]));
  return { ports, env: testEnv({ ...portVars, ...overrides }) };
}

const HTTP_ROLES = ["gateway", "ingest", "dispatcher", "retry", "observability"] as const;

/**
 * A child `hookrelay all` whose env (ports, data dir) stays the same across restarts. `start`
 * waits until every HTTP role it runs answers /health, so a role that could not listen is seen.
 * A port picked free can be taken by someone else before the child binds it (an outgoing
 * connection's ephemeral port): on its first start only, a child that exits for a port in use
 * gets fresh ports and is started again.
 */
export function childInstance(overrides: Record<string, string> = {}, command: string[] = ["bun", "src/cli/main.ts", "all"]): ChildInstance {
  const { ports, env } = portsAndEnv(overrides);
  // The role is the command's last word (also inside a shell line such as `... && exec bun src/cli/main.ts all`).
  const role = command[command.length - 1]!.trim().split(/\s+/).at(-1)!;
  const named = HTTP_ROLES.filter((r) => r === role);
  const roles = role === "all" || named.length === 0 ? [...HTTP_ROLES] : named;
  let out = "";
  let started = false;
  const instance: ChildInstance = {
    env,
    gateway: `http://127.0.0.1:${ports.gateway}`,
    ingest: `http://127.0.0.1:${ports.ingest}`,
    proc: undefined as unknown as Subprocess,
    output: () => out,
    async start() {
      for (let tries = 1; ; tries++) {
        const proc = Bun.spawn(command, { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }, stdout: "pipe", stderr: "pipe" });
        instance.proc = proc;
        for (const stream of [proc.stdout, proc.stderr] as ReadableStream<Uint8Array>[])
          (async () => {
            for await (const chunk of stream) out += new TextDecoder().decode(chunk);
          })();
        const portOf = (r: (typeof HTTP_ROLES)[number]) => env[`HOOKRELAY_SERVER_${r.toUpperCase()}_PORT`];
        try {
          await waitFor(
            "hookrelay to answer /health on every role",
            async () => {
              if (proc.exitCode !== null) throw new Error(`hookrelay exited ${proc.exitCode}: ${out}`);
              const answers = await Promise.all(
                roles.map((r) =>
                  fetch(`http://127.0.0.1:${portOf(r)}/health`).then(
                    (res) => res.ok,
                    () => false,
                  ),
                ),
              );
              return answers.every(Boolean);
            },
            20_000,
            50,
          );
          started = true;
          return;
        } catch (err) {
          if (started || tries >= 3 || !/the port is in use/.test(out)) throw err;
          const fresh = portsAndEnv().ports;
          for (const [r, port] of Object.entries(fresh)) env[`HOOKRELAY_SERVER_${r.toUpperCase()}_PORT`] = String(port);
          instance.gateway = `http://127.0.0.1:${fresh.gateway}`;
          instance.ingest = `http://127.0.0.1:${fresh.ingest}`;
          out = "";
        }
      }
    },
  };
  return instance;
}

/**
 * Child instances and receivers of one test file, killed (-9) and stopped after it, whatever a
 * failed assertion left running. Call once at the top of the file.
 */
export function fileScope() {
  const children: ChildInstance[] = [];
  const receivers: Receiver[] = [];
  afterAll(() => {
    for (const child of children) child.proc?.kill(9);
    for (const receiver of receivers) receiver.stop();
  });
  return {
    child(overrides: Record<string, string> = {}): ChildInstance {
      const child = childInstance(overrides);
      children.push(child);
      return child;
    },
    receiver(): Receiver {
      const receiver = startReceiver();
      receivers.push(receiver);
      return receiver;
    },
  };
}

/** Every live process's children by parent pid, read from /proc now. */
export function childrenByParent(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name (field 2) may hold spaces; the parent pid is the second field after it.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid);
      if (list) list.push(Number(entry));
      else children.set(ppid, [Number(entry)]);
    } catch {} // gone meanwhile
  }
  return children;
}

/** The live processes whose parent is `pid` (a shard supervisor's shards), read from /proc now. */
export function childPids(pid: number): number[] {
  return childrenByParent().get(pid) ?? [];
}

/** The shard a supervised process runs (its HOOKRELAY_SHARD), or undefined when it is gone. */
export function shardOfPid(pid: number): number | undefined {
  try {
    const shard = readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .find((v) => v.startsWith("HOOKRELAY_SHARD="));
    return shard === undefined ? undefined : Number(shard.split("=")[1]);
  } catch {
    return undefined;
  }
}

/** Whether a process is still there. */
export function alive(pid: number): boolean {
  return readdirSync("/proc").includes(String(pid));
}

/** One role of a production deployment as its own process, with its output kept. */
export interface RoleProcess {
  proc: Subprocess;
  output(): string;
}

/**
 * Starts `bun src/cli/main.ts <role>` with `env` (from `portsAndEnv`) and resolves once it answers
 * /health on `port`; the caller kills it (`proc.kill(9)`).
 */
export async function spawnRole(role: string, env: Record<string, string>, port: number): Promise<RoleProcess> {
  let out = "";
  const proc = Bun.spawn(["bun", "src/cli/main.ts", role], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }, stdout: "pipe", stderr: "pipe" });
  for (const stream of [proc.stdout, proc.stderr] as ReadableStream<Uint8Array>[])
    (async () => {
      for await (const chunk of stream) out += new TextDecoder().decode(chunk);
    })();
  const url = `http://127.0.0.1:${port}`;
  let last = "";
  const healthy = waitFor(
    () => `${role} at ${url} to answer /health (last: ${last}); it wrote: ${out.slice(-1500)}`,
    async () => {
      if (proc.exitCode !== null) throw new Error(`${role} exited ${proc.exitCode}: ${out}`);
      return fetch(`${url}/health`).then(
        async (r) => {
          last = `${r.status} ${await r.text()}`;
          return r.ok;
        },
        (err) => {
          last = String(err);
          return false;
        },
      );
    },
    30_000,
    50,
  );
  await healthy.catch((err) => {
    proc.kill(9);
    throw err;
  });
  return { proc, output: () => out };
}

/** A running child hookrelay with a receiver, and admin clients of its gateway and ingest. */
export interface ChildWithReceiver {
  hr: ChildInstance;
  rx: Receiver;
  api: ReturnType<typeof client>;
  ingest: ReturnType<typeof client>;
}

/**
 * Starts hookrelay as a child process with `env` and a receiver; both are stopped by the callbacks it
 * adds to `cleanups` (the file's afterAll runs them).
 */
export async function startChildWithReceiver(env: Record<string, string>, cleanups: (() => void)[]): Promise<ChildWithReceiver> {
  const hr = childInstance(env);
  cleanups.push(() => hr.proc?.kill(9));
  await hr.start();
  const rx = startReceiver();
  cleanups.push(() => rx.stop());
  const token = await adminToken(hr.gateway);
  return { hr, rx, api: client(hr.gateway, token), ingest: client(hr.ingest, token) };
}
