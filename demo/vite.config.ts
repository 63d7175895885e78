import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The worker serves ../build-assets as Workers static assets, so the app
// lives at /demo/ on the API's own origin and `GET /` stays the API's.
/** `make dev`'s port: PORT from the environment (the demo's tsconfig has no Node types). */
function devPort(): string {
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env;
  return env?.PORT ?? "8787";
}

export default defineConfig({
  base: "/demo/",
  plugins: [react()],
  resolve: {
    // anon-sessions-client is linked from ../client, which has React of its
    // own for its tests; two copies of React break hooks.
    dedupe: ["react", "react-dom"],
  },
  build: {
    outDir: "../build-assets/demo",
    emptyOutDir: true,
  },
  server: {
    // `npm run dev` here with `make dev` running: the API is proxied so the
    // app sees one origin, as it does when the worker serves it. PORT is
    // `make dev`'s own, when it serves elsewhere than 8787.
    proxy: Object.fromEntries(
      ["/anon", "/v1"].map((path) => [path, `http://127.0.0.1:${devPort()}`]),
    ),
  },
});
