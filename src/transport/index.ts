/**
 * ghostnet/transport: the stream and datagram shapes (DESIGN §3) over TCP, TLS, UDP and
 * in-memory pipes, and the connection pool.
 */
export type * from './types.js';
export * from './errors.js';
export * from './datagram-errors.js';
export * from './pool-errors.js';
export {
  listenTcp,
  connectTcp,
  TcpServer,
  DEFAULT_BACKLOG,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_SERVER_IDLE_TIMEOUT_MS,
} from './tcp.js';
export { DEFAULT_HIGH_WATER_MARK, DEFAULT_CLOSE_GRACE_MS } from './socket-connection.js';
export type { TcpServerOptions, TcpConnectOptions } from './tcp.js';
export * from './tls.js';
export * from './udp.js';
export * from './memory.js';
export * from './pool.js';
export * from './quic.js';
