/**
 * @module `bun run build`: compiles `dist/hookrelay`, one executable with every role, the
 * migrations and the Kafka client's WebAssembly (embedded, not read from node_modules).
 */
import type { BunPlugin } from "bun";

/** @platformatic/wasm-utils reads native.wasm from disk; its `bundled` entry carries it inline. */
const inlineWasm: BunPlugin = {
  name: "inline-wasm-utils",
  setup(build) {
    build.onResolve({ filter: /^@platformatic\/wasm-utils$/ }, () => ({
      path: Bun.resolveSync("@platformatic/wasm-utils/bundled", import.meta.dir),
    }));
  },
};

const result = await Bun.build({
  entrypoints: ["src/cli/main.ts"],
  compile: { outfile: "dist/hookrelay" },
  minify: true,
  plugins: [inlineWasm],
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(`built ${result.outputs.map((o) => o.path).join(", ")}`);
