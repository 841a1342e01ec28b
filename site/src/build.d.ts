// What build.mjs gives the page's modules.

/** The worker bundle's content-hashed name (esbuild's define). */
declare const WORKER_URL: string;

/** Go sources bundled as text (esbuild's .go loader): the default program, examples/echo/main.go. */
declare module "*.go" {
  const text: string;
  export default text;
}
