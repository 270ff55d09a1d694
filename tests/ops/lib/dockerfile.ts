/**
 * @module A Dockerfile read into stages and instructions (continuation lines joined, comments
 * dropped, exec and shell forms told apart), enough to run a build stage's steps outside Docker.
 */

export interface Instruction {
  keyword: string;
  /** The text after the keyword, continuation lines joined. */
  args: string;
  /** `--from=build`, `--chown=10001:10001`, ... of COPY/ADD. */
  flags: Record<string, string>;
  /** The exec form's array, when the instruction uses it (`["/usr/local/bin/hookrelay"]`). */
  exec?: string[];
  line: number;
}

export interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs before the first FROM, with their defaults. */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const logical: { text: string; line: number }[] = [];
  let pending = "";
  let start = 0;
  text.split("\n").forEach((raw, index) => {
    const line = raw.replace(/\r$/, "");
    if (pending === "" && /^\s*#/.test(line)) return;
    if (pending === "" && line.trim() === "") return;
    if (pending === "") start = index + 1;
    if (/^\s*#/.test(line)) return; // a comment inside a continued instruction
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    logical.push({ text: (pending + line).trim(), line: start });
    pending = "";
  });
  if (pending) throw new Error(`Dockerfile: the instruction from line ${start} ends with a backslash`);

  const result: Dockerfile = { globalArgs: {}, stages: [] };
  for (const { text: item, line } of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(item)!;
    const keyword = m[1]!.toUpperCase();
    let args = m[2]!;
    const flags: Record<string, string> = {};
    if (keyword === "COPY" || keyword === "ADD" || keyword === "RUN") {
      for (let f = /^--([a-z-]+)(?:=(\S+))?\s+/.exec(args); f; f = /^--([a-z-]+)(?:=(\S+))?\s+/.exec(args)) {
        flags[f[1]!] = f[2] ?? "true";
        args = args.slice(f[0].length);
      }
    }
    let exec: string[] | undefined;
    if (args.startsWith("[")) {
      try {
        const parsed = JSON.parse(args);
        if (Array.isArray(parsed) && parsed.every((p) => typeof p === "string")) exec = parsed;
      } catch {}
    }
    const instruction: Instruction = { keyword, args, flags, exec, line };
    if (keyword === "FROM") {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`Dockerfile line ${line}: cannot read FROM ${args}`);
      result.stages.push({ image: from[1]!, name: from[2], instructions: [] });
      continue;
    }
    const stage = result.stages.at(-1);
    if (!stage) {
      if (keyword !== "ARG") throw new Error(`Dockerfile line ${line}: ${keyword} before the first FROM`);
      const [name, value = ""] = args.split("=");
      result.globalArgs[name!.trim()] = value.trim();
      continue;
    }
    stage.instructions.push(instruction);
  }
  return result;
}

/** COPY's sources and destination (exec form or words; the last is the destination). */
export function copyPaths(instruction: Instruction): { sources: string[]; destination: string } {
  const words = instruction.exec ?? instruction.args.split(/\s+/).filter(Boolean);
  if (words.length < 2) throw new Error(`Dockerfile line ${instruction.line}: COPY needs a source and a destination`);
  return { sources: words.slice(0, -1), destination: words.at(-1)! };
}
