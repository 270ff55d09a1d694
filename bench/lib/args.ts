/** @module The command line of a one-deployment bench: `[embedded|production] [--name=N …] [--record]`. */

export interface DeploymentArgs {
  deployment: "embedded" | "production";
  /** `--name=N` as a number, or `fallback`. */
  option(name: string, fallback: number): number;
  /** `--record`: the results go to bench/results (else bench/out). */
  record: boolean;
}

/** The process's arguments; throws `usage` when the deployment is neither. */
export function deploymentArgs(usage: string, args = process.argv.slice(2)): DeploymentArgs {
  const deployment = args.find((a) => !a.startsWith("--")) ?? "embedded";
  if (deployment !== "embedded" && deployment !== "production") throw new Error(`usage: ${usage}`);
  return {
    deployment,
    option: (name, fallback) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback),
    record: args.includes("--record"),
  };
}
