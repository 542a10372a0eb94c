// A REST JSON API: CRUD on /items with validation errors as 4xx JSON, a body limit and
// recovery. Run: node examples/rest-api/index.js (PORT=0 picks a port).
import { HttpError, bodyLimit, createApp, recovery } from 'ghostnet/http';
import { listenHttp1 } from 'ghostnet/http1';
import { ShutdownManager } from 'ghostnet/lifecycle';

const items = new Map();
let nextId = 1;
const MAX_ITEMS = 10_000;

/** Validates an item body; returns { name, price } or throws a 422 with the problems. */
function validate(body) {
  const problems = [];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'The body must be a JSON object');
  }
  if (typeof body.name !== 'string' || body.name.trim() === '' || body.name.length > 200) {
    problems.push('name must be a non-empty string of at most 200 characters');
  }
  if (typeof body.price !== 'number' || !Number.isFinite(body.price) || body.price < 0) {
    problems.push('price must be a non-negative number');
  }
  if (problems.length > 0) throw new HttpError(422, problems.join('; '));
  return { name: body.name.trim(), price: body.price };
}

function find(id) {
  const item = items.get(Number(id));
  if (!item) throw new HttpError(404, `No item ${id}`);
  return item;
}

const app = createApp();
// recovery is outermost: anything unexpected becomes a 500 and the process lives.
app.use(recovery());
// HttpErrors become JSON: { "error": message } with their status.
app.use(async (req, res, next) => {
  try {
    await next();
  } catch (err) {
    if (!(err instanceof HttpError) || res.headersSent) throw err;
    res.json({ error: err.message }, err.status);
  }
});
app.use(bodyLimit({ maxBytes: 16 * 1024 }));

app.get('/items', (_req, res) => res.json([...items.values()]));
app.get('/items/:id', (req, res) => res.json(find(req.params.id)));
app.post('/items', async (req, res) => {
  if (items.size >= MAX_ITEMS) throw new HttpError(507, 'The store is full');
  const item = { id: nextId++, ...validate(await req.json()) };
  items.set(item.id, item);
  res.setHeader('location', `/items/${item.id}`);
  res.json(item, 201);
});
app.put('/items/:id', async (req, res) => {
  const item = find(req.params.id);
  Object.assign(item, validate(await req.json()));
  res.json(item);
});
app.delete('/items/:id', (req, res) => {
  find(req.params.id);
  items.delete(Number(req.params.id));
  res.status = 204;
  res.end();
});

const server = await listenHttp1(
  { host: '127.0.0.1', port: Number(process.env.PORT ?? 8082) },
  app.handler(),
);
const shutdown = new ShutdownManager();
shutdown.register(server.drainable);
shutdown.listen();
console.log(`listening on http://127.0.0.1:${server.address.port}`);
