// A static file server: ETag/Last-Modified, conditional requests, ranges, compression and
// security headers. Run: node examples/static-server/index.js [DIR] (PORT=0 picks a port).
import { fileURLToPath } from 'node:url';
import { compression, createApp, securityHeaders, serveStatic } from 'ghostnet/http';
import { listenHttp1 } from 'ghostnet/http1';
import { ShutdownManager } from 'ghostnet/lifecycle';

const root = process.argv[2] ?? fileURLToPath(new URL('./public', import.meta.url));
const app = createApp();
app.use(
  securityHeaders(),
  compression({ threshold: 256 }),
  serveStatic(root, { spaFallback: false }),
);

const server = await listenHttp1(
  { host: '127.0.0.1', port: Number(process.env.PORT ?? 8081) },
  app.handler(),
);
const shutdown = new ShutdownManager();
shutdown.register(server.drainable);
shutdown.listen();
console.log(`listening on http://127.0.0.1:${server.address.port}`);
