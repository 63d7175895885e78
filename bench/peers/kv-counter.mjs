// Bench-only service that sits between a worker's ANON_KV binding and the
// local KV implementation, forwards every request unchanged, and counts the
// KV operations by kind. workerd's KV binding speaks HTTP to its service:
//   GET /<key>       get        PUT /<key>   put
//   GET /?prefix=..  list       DELETE /<key> delete
//   POST /bulk/get   bulk get
// It is only on the counting path, never on the timed one.
//
//   GET /__bench/counts (header x-bench-control: 1)  -> counts, then reset

let counts = {};

function kind(request) {
  const url = new URL(request.url);
  if (request.method === "GET") return url.pathname === "/" ? "list" : "get";
  if (request.method === "PUT") return "put";
  if (request.method === "DELETE") return "delete";
  if (request.method === "POST" && url.pathname === "/bulk/get") return "bulk_get";
  return `other ${request.method} ${url.pathname}`;
}

export default {
  async fetch(request, env) {
    if (request.headers.get("x-bench-control") === "1") {
      const body = JSON.stringify(counts);
      counts = {};
      return new Response(body, { headers: { "content-type": "application/json" } });
    }
    const k = kind(request);
    counts[k] = (counts[k] ?? 0) + 1;
    return env.UPSTREAM.fetch(request);
  },
};
