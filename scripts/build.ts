/**
 * @module `bun run build`: compiles `dist/hookrelay`, one executable with every role, the
 * migrations, the Kafka client's WebAssembly and gRPC reflection's .proto files (embedded,
 * not read from node_modules).
 */
import { dirname, resolve } from "node:path";
import type { BunPlugin } from "bun";
import protobuf from "protobufjs";

/** @platformatic/wasm-utils reads native.wasm from disk; its `bundled` entry carries it inline (the bench kit's bundle uses it too). */
export const inlineWasm: BunPlugin = {
  name: "inline-wasm-utils",
  setup(build) {
    build.onResolve({ filter: /^@platformatic\/wasm-utils$/ }, () => ({
      path: Bun.resolveSync("@platformatic/wasm-utils/bundled", import.meta.dir),
    }));
  },
};

/**
 * @grpc/reflection loads its own reflection.proto from beside its code when it starts
 * serving, which a compiled binary does not have: hand proto-loader the parsed file instead.
 */
let reflectionFilesInlined = 0;
const inlineReflectionProtos: BunPlugin = {
  name: "inline-grpc-reflection-protos",
  setup(build) {
    build.onLoad({ filter: /[\\/]@grpc[\\/]reflection[\\/]build[\\/]src[\\/]implementations[\\/]reflection-v1(alpha)?\.js$/ }, async (args) => {
      const source = await Bun.file(args.path).text();
      const call = /const protoPath = path\.join\(__dirname, '([^']+)'\);\s*const pkgDefinition = protoLoader\.loadSync\(protoPath, ([\w.]+)\);/;
      const match = call.exec(source);
      if (!match) throw new Error(`${args.path}: its loadSync call changed shape; update inlineReflectionProtos in scripts/build.ts`);
      const json = protobuf.loadSync(resolve(dirname(args.path), match[1]!)).toJSON();
      reflectionFilesInlined++;
      return { contents: source.replace(call, `const pkgDefinition = protoLoader.fromJSON(${JSON.stringify(json)}, ${match[2]});`), loader: "js" };
    });
  },
};

if (import.meta.main) {
  const result = await Bun.build({
    entrypoints: ["src/cli/main.ts"],
    compile: { outfile: "dist/hookrelay" },
    minify: true,
    plugins: [inlineWasm, inlineReflectionProtos],
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    process.exit(1);
  }
  // v1 and v1alpha: without both, the binary would look for .proto files that are not there.
  if (reflectionFilesInlined !== 2) {
    console.error(`build: inlined ${reflectionFilesInlined} of @grpc/reflection's 2 .proto loads; update inlineReflectionProtos`);
    process.exit(1);
  }
  console.log(`built ${result.outputs.map((o) => o.path).join(", ")}`);
}
