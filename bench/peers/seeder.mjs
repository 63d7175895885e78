// Bench-only worker bound to the same KV namespace as the workers under
// test. It writes a visitor's actions directly, in the layout of
// docs/kv-schema.md, so that the benchmark can give one visitor 10,000
// actions in seconds instead of 10,000 requests.
//
//   POST /seed  {"anon_id", "count", "start_ms", "ttl"}  -> {"written"}

export default {
  async fetch(request, env) {
    const { anon_id: id, count, start_ms: start, ttl } = await request.json();
    if (!/^[0-9a-f-]{36}$/.test(id) || !(count > 0 && count <= 1000)) {
      return new Response("bad seed request", { status: 400 });
    }
    let written = 0;
    const CONCURRENCY = 25;
    for (let i = 0; i < count; i += CONCURRENCY) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + CONCURRENCY); j++) {
        const t = start + j;
        const key = `a:${id}:${String(t).padStart(13, "0")}-${j.toString(16).padStart(8, "0")}`;
        const stored = { a: `seeded action ${j}`, t };
        batch.push(env.ANON_KV.put(key, JSON.stringify(stored), { expirationTtl: ttl, metadata: stored }));
      }
      await Promise.all(batch);
      written += batch.length;
    }
    return Response.json({ written });
  },
};
