/**
 * node:diagnostics_channel events (STYLE §9, as undici publishes `undici:request:*`): APM
 * and tracing tools subscribe to these names without ghostnet knowing about them. Each
 * publisher checks `hasSubscribers` first, so an unobserved channel costs one property
 * read on the hot path.
 *
 * | channel                           | message                                                |
 * | --------------------------------- | ------------------------------------------------------ |
 * | `ghostnet:http:request-start`     | `{ request }` (HttpRequest; `request.protocol` tells the engine) |
 * | `ghostnet:http:request-finish`    | `{ request, outcome }` (status code as text, or 'aborted') |
 * | `ghostnet:http2:connection-error` | `{ connectionId, error }` (Http2ConnectionError; GOAWAY was sent) |
 * | `ghostnet:dht:lookup`             | `{ kind, target, queries, peers, closest }` after each lookup |
 */
import { channel } from 'node:diagnostics_channel';

export const diagnostics = Object.freeze({
  httpRequestStart: channel('ghostnet:http:request-start'),
  httpRequestFinish: channel('ghostnet:http:request-finish'),
  http2ConnectionError: channel('ghostnet:http2:connection-error'),
  dhtLookup: channel('ghostnet:dht:lookup'),
});
