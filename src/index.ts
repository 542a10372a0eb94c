/**
 * ghostnet: hand-written network protocol stacks for Node.js.
 *
 * The root entry re-exports the public facades and the error classes. Each area also has
 * its own subpath (`ghostnet/transport`, `ghostnet/lifecycle`, `ghostnet/monitoring`, and the
 * protocol stacks as they land), which is the better import for applications.
 */
export * from './errors.js';
export * from './transport/index.js';
export * from './lifecycle/index.js';
export * from './monitoring/index.js';
