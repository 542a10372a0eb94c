// kademlia-dht's pluggable RPC (the interface its MockRpc implements: getter `endpoint`,
// `receive(message, handler)`, `ping`/`store`/`findNode`/`findValue(endpoint, payload, cb)`
// and `close()`) on ghostnet/sim: one `net.bind()` endpoint per node, query timeouts on the
// network's virtual clock (`net.timers`). Loss, latency, churn and timeouts are the sim's.
//
// kademlia-dht has no wire format: MockRpc hands payload and result objects over by
// reference. So a datagram here carries only a 6-byte header — kind (request/response),
// message and a 32-bit exchange id — and the objects ride in an in-process Map keyed by
// that id (SimRpcHub#exchanges). Whether and when the objects arrive is decided by the
// datagram; the Map is only where the receiver picks them up.

const REQUEST = 0;
const RESPONSE = 1;
const MESSAGES = ['ping', 'store', 'findNode', 'findValue'];
const HEADER_BYTES = 6;

function rpcError(code, message) {
  const err = new Error(message);
  err.code = code;
  return err;
}

/** The RPCs of one simulated network: endpoint names, open exchanges and counters. */
export class SimRpcHub {
  /** Requests sent so far, by message (`findNode`, `ping`, …). */
  sent = { ping: 0, store: 0, findNode: 0, findValue: 0 };
  #net;
  #timeoutMs;
  /** Endpoint name ('10.0.0.1:6881') → the sim's own address object (its fast path). */
  #addresses = new Map();
  /** Address object → endpoint name. */
  #names = new Map();
  /** Exchange id → { rpc, message, payload, result, failed, cb, timer }. */
  #exchanges = new Map();
  #nextId = 0;

  /**
   * @param {import('../../dist/p2p/sim/index.js').SimNetwork} net
   * @param {{ timeoutMs: number }} options how long a request waits for its response
   */
  constructor(net, { timeoutMs }) {
    this.#net = net;
    this.#timeoutMs = timeoutMs;
  }

  /** A new RPC on a fresh endpoint of the network. */
  spawn() {
    const endpoint = this.#net.bind();
    const name = `${endpoint.address.address}:${endpoint.address.port}`;
    this.#addresses.set(name, endpoint.address);
    this.#names.set(endpoint.address, name);
    return new SimRpc(this, endpoint, name);
  }

  /** Open exchanges (requests waiting for a response or their timeout). */
  get pending() {
    return this.#exchanges.size;
  }

  /** @internal */
  request(rpc, message, endpoint, payload, cb) {
    this.sent[message]++;
    const timers = this.#net.timers;
    const to = this.#addresses.get(endpoint);
    if (to === undefined) {
      timers.setTimeout(() => cb(rpcError('EINVALIDEP', 'invalid endpoint')), 0);
      return;
    }
    const id = this.#nextId;
    this.#nextId = (this.#nextId + 1) >>> 0;
    const x = { rpc, message, payload, result: undefined, failed: false, cb, timer: undefined };
    x.timer = timers.setTimeout(() => {
      this.#exchanges.delete(id);
      cb(rpcError('ETIMEDOUT', 'sim rpc timeout'));
    }, this.#timeoutMs);
    this.#exchanges.set(id, x);
    rpc.transmit(header(REQUEST, MESSAGES.indexOf(message), id), to);
  }

  /** @internal A datagram delivered to `rpc`'s endpoint. */
  deliver(rpc, data, from) {
    if (data.byteLength !== HEADER_BYTES) return;
    const id = new DataView(data.buffer, data.byteOffset, HEADER_BYTES).getUint32(2);
    // Absent: the requester timed out before this arrived (its objects are gone).
    const x = this.#exchanges.get(id);
    if (x === undefined) return;
    if (data[0] === REQUEST) {
      const handler = rpc.handler(x.message);
      if (handler === undefined) return;
      try {
        x.result = handler(this.#names.get(from) ?? `${from.address}:${from.port}`, x.payload);
      } catch {
        x.failed = true; // MockRpc answers EREMOTEERR
      }
      rpc.transmit(header(RESPONSE, data[1], id), from);
    } else if (data[0] === RESPONSE && x.rpc === rpc) {
      this.#exchanges.delete(id);
      this.#net.timers.clearTimeout(x.timer);
      if (x.failed) x.cb(rpcError('EREMOTEERR', 'remote node errored'));
      else x.cb(null, x.result);
    }
  }
}

function header(kind, message, id) {
  const out = new Uint8Array(HEADER_BYTES);
  out[0] = kind;
  out[1] = message;
  new DataView(out.buffer).setUint32(2, id);
  return out;
}

/** One kademlia-dht node's RPC; `node` is its SimNode (for churn: `leave()`/`join()`). */
export class SimRpc {
  #hub;
  #endpoint;
  #name;
  #handlers = new Map();

  constructor(hub, endpoint, name) {
    this.#hub = hub;
    this.#endpoint = endpoint;
    this.#name = name;
    endpoint.on('message', (data, from) => hub.deliver(this, data, from));
  }

  get endpoint() {
    return this.#name;
  }

  get node() {
    return this.#endpoint.node;
  }

  /** As MockRpc: without `handler`, returns the registered one. */
  receive(message, handler) {
    if (handler === undefined) return this.#handlers.get(message);
    if (this.#handlers.has(message)) {
      throw rpcError('EHANDLEREXISTS', `a handler is already registered for: ${message}`);
    }
    this.#handlers.set(message, handler);
  }

  ping(endpoint, payload, cb) {
    this.#hub.request(this, 'ping', endpoint, payload, cb);
  }

  store(endpoint, payload, cb) {
    this.#hub.request(this, 'store', endpoint, payload, cb);
  }

  findNode(endpoint, payload, cb) {
    this.#hub.request(this, 'findNode', endpoint, payload, cb);
  }

  findValue(endpoint, payload, cb) {
    this.#hub.request(this, 'findValue', endpoint, payload, cb);
  }

  close() {
    void this.#endpoint.close();
  }

  /** @internal */
  handler(message) {
    return this.#handlers.get(message);
  }

  /** @internal */
  transmit(data, to) {
    this.#endpoint.send(data, to);
  }
}
