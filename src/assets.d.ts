/** SQL files are imported as text and embedded in the compiled binary. */
declare module "*.sql" {
  const text: string;
  export default text;
}

/** Files imported with `{ type: "file" }` (Scalar's bundle): their path, embedded by `bun build --compile`. */
declare module "*/standalone.js" {
  const path: string;
  export default path;
}
