/** SQL files are imported as text and embedded in the compiled binary. */
declare module "*.sql" {
  const text: string;
  export default text;
}

/** The observability dashboard: one self-contained page, embedded in the binary. */
declare module "*.html" {
  const text: string;
  export default text;
}
