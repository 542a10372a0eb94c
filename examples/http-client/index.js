// An HTTP client using the connection pool: fetches each URL given on the command line
// CONCURRENCY at a time over pooled keep-alive connections and prints one JSON line each.
// Run: node examples/http-client/index.js http://127.0.0.1:8080/hello http://127.0.0.1:8080/bytes/1000
import { Http1Client } from 'ghostnet/http1';

const urls = process.argv.slice(2);
if (urls.length === 0) {
  console.error('usage: node examples/http-client/index.js URL...');
  process.exit(2);
}
const client = new Http1Client({}, { pool: { maxConnectionsPerOrigin: 4 } });
const CONCURRENCY = 4;
let failed = 0;

async function fetchOne(url) {
  const started = performance.now();
  try {
    const res = await client.request({
      url,
      timeouts: { connectMs: 5000, headersMs: 10_000, bodyMs: 10_000 },
    });
    let bytes = 0;
    for await (const chunk of res.body) bytes += chunk.length;
    const ms = Math.round(performance.now() - started);
    console.log(JSON.stringify({ url, status: res.status, bytes, ms }));
  } catch (err) {
    failed++;
    console.log(JSON.stringify({ url, error: err.code ?? err.message }));
  }
}

const queue = [...urls];
await Promise.all(
  Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
    while (queue.length > 0) await fetchOne(queue.shift());
  }),
);
const stats = client.stats();
console.log(JSON.stringify({ pool: stats }));
await client.close();
process.exitCode = failed > 0 ? 1 : 0;
