import { Counter, Gauge, register as globalRegistry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { hasCode } from '../../src/errors.js';
import {
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  prefersOpenMetrics,
} from '../../src/monitoring/exposition.js';
import { Metrics } from '../../src/monitoring/metrics.js';
import type { MetricsOptions } from '../../src/monitoring/metrics.js';
import type { Observer } from '../../src/monitoring/observer.js';

const created: Metrics[] = [];

function make(options: MetricsOptions = {}): Metrics {
  const metrics = new Metrics({ collectProcessMetrics: false, ...options });
  created.push(metrics);
  return metrics;
}

afterEach(() => {
  for (const metrics of created.splice(0)) metrics.stop();
});

/** The value of one sample, found by metric name, sample name and exact labels. */
async function value(
  metrics: Metrics,
  metricName: string,
  labels: Record<string, string>,
  sampleName = metricName,
): Promise<number | undefined> {
  const all = await metrics.registry.getMetricsAsJSON();
  const metric = all.find((m) => m.name === metricName);
  if (metric === undefined) return undefined;
  const want = JSON.stringify(Object.entries(labels).sort());
  for (const v of metric.values as { metricName?: string; labels: object; value: number }[]) {
    const name = v.metricName ?? metricName;
    const got = Object.entries(v.labels).map(([k, l]) => [k, String(l)]);
    if (name === sampleName && JSON.stringify(got.sort()) === want) {
      return v.value;
    }
  }
  return undefined;
}

function expectCode(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a throw').toBeDefined();
  expect(hasCode(caught, code), String(caught)).toBe(true);
}

describe('Metrics observer', () => {
  it('counts connections, open gauge and connection durations by protocol', async () => {
    const m = make();
    const o = m.observer;
    o.connectionOpened('tcp');
    o.connectionOpened('tcp');
    o.connectionOpened('tls');
    o.connectionClosed('tcp', 2);
    expect(await value(m, 'ghostnet_connections_opened_total', { protocol: 'tcp' })).toBe(2);
    expect(await value(m, 'ghostnet_connections_opened_total', { protocol: 'tls' })).toBe(1);
    expect(await value(m, 'ghostnet_connections_open', { protocol: 'tcp' })).toBe(1);
    expect(await value(m, 'ghostnet_connections_open', { protocol: 'tls' })).toBe(1);
    const hist = 'ghostnet_connection_duration_seconds';
    expect(await value(m, hist, { protocol: 'tcp' }, `${hist}_count`)).toBe(1);
    expect(await value(m, hist, { protocol: 'tcp' }, `${hist}_sum`)).toBe(2);
    expect(await value(m, hist, { protocol: 'tcp', le: '1' }, `${hist}_bucket`)).toBe(0);
    expect(await value(m, hist, { protocol: 'tcp', le: '5' }, `${hist}_bucket`)).toBe(1);
  });

  it('never lets the open-connections gauge go below zero', async () => {
    const m = make();
    m.observer.connectionClosed('udp', 1);
    m.observer.connectionClosed('udp', 1);
    expect(await value(m, 'ghostnet_connections_open', { protocol: 'udp' })).toBe(0);
    m.observer.connectionOpened('udp');
    expect(await value(m, 'ghostnet_connections_open', { protocol: 'udp' })).toBe(1);
  });

  it('counts bytes, requests, request latency and errors', async () => {
    const m = make();
    const o = m.observer;
    o.bytesReceived('h2', 100);
    o.bytesReceived('h2', 23);
    o.bytesSent('h2', 7);
    o.requestFinished('http1', 'GET', '200', 0.003);
    o.requestFinished('http1', 'GET', '404', 0.2);
    o.requestFinished('http1', 'POST', '200', 0.004);
    o.error('h2', 'GN_ERR_H2_PROTOCOL');
    o.error('h2', 'GN_ERR_H2_PROTOCOL');
    expect(await value(m, 'ghostnet_bytes_received_total', { protocol: 'h2' })).toBe(123);
    expect(await value(m, 'ghostnet_bytes_sent_total', { protocol: 'h2' })).toBe(7);
    const req = 'ghostnet_requests_total';
    expect(await value(m, req, { protocol: 'http1', method: 'GET', outcome: '200' })).toBe(1);
    expect(await value(m, req, { protocol: 'http1', method: 'GET', outcome: '404' })).toBe(1);
    const lat = 'ghostnet_request_duration_seconds';
    const get = { protocol: 'http1', method: 'GET' };
    expect(await value(m, lat, get, `${lat}_count`)).toBe(2);
    expect(await value(m, lat, get, `${lat}_sum`)).toBeCloseTo(0.203, 9);
    expect(await value(m, lat, { ...get, le: '0.005' }, `${lat}_bucket`)).toBe(1);
    expect(await value(m, lat, { ...get, le: '0.25' }, `${lat}_bucket`)).toBe(2);
    expect(
      await value(m, 'ghostnet_errors_total', { protocol: 'h2', code: 'GN_ERR_H2_PROTOCOL' }),
    ).toBe(2);
  });

  it('accepts numeric outcomes from JavaScript callers', async () => {
    const m = make();
    (m.observer.requestFinished as (...a: unknown[]) => void)('http1', 'GET', 503, 0.1);
    expect(
      await value(m, 'ghostnet_requests_total', {
        protocol: 'http1',
        method: 'GET',
        outcome: '503',
      }),
    ).toBe(1);
  });

  it('keeps working when its methods are detached from the object', async () => {
    const m = make();
    const { bytesSent, gauge } = m.observer;
    bytesSent('tcp', 5);
    gauge('queue_depth', 4);
    expect(await value(m, 'ghostnet_bytes_sent_total', { protocol: 'tcp' })).toBe(5);
    expect(await value(m, 'ghostnet_queue_depth', {})).toBe(4);
  });

  it('creates gauges lazily and updates them by label set', async () => {
    const m = make();
    m.observer.gauge('dht_routing_table_nodes', 10);
    m.observer.gauge('gossip_members', 3, { state: 'alive' });
    m.observer.gauge('gossip_members', 1, { state: 'suspect' });
    m.observer.gauge('gossip_members', 4, { state: 'alive' });
    expect(await value(m, 'ghostnet_dht_routing_table_nodes', {})).toBe(10);
    expect(await value(m, 'ghostnet_gossip_members', { state: 'alive' })).toBe(4);
    expect(await value(m, 'ghostnet_gossip_members', { state: 'suspect' })).toBe(1);
    expect(m.registry.getSingleMetric('ghostnet_gossip_members')).toBeInstanceOf(Gauge);
  });

  it('drops and counts invalid gauge reports instead of throwing', async () => {
    const m = make();
    const o = m.observer;
    const dropped = (reason: string) =>
      value(m, 'ghostnet_observer_dropped_series_total', { reason });
    expect(() => {
      o.gauge('bad-name', 1);
      o.gauge('1starts_with_digit', 1);
      o.gauge('__reserved', 1);
      o.gauge('pool:size', 1);
      o.gauge('x'.repeat(201), 1);
      o.gauge('requests_seen_total', 1);
      o.gauge('latency_count', 1);
      o.gauge('latency_bucket', 1);
      o.gauge('ok_gauge', 1, { 'bad-label': 'v' });
      o.gauge('ok_gauge', 1, { le: '1' });
      o.gauge('ok_gauge', 1, { __name__: 'x' });
      o.gauge('ok_gauge', 1, { pool: { not: 'a string' } as unknown as string });
      o.gauge('ok_gauge', 1, { pool: 'a' });
      o.gauge('ok_gauge', 1, { pool: 'a', extra: 'b' });
      o.gauge('ok_gauge', 1, {});
      o.gauge('connections_open', 1);
      o.gauge('ok_gauge', Number.NaN, { pool: 'a' });
      o.gauge('ok_gauge', Number.POSITIVE_INFINITY, { pool: 'a' });
      o.gauge('ok_gauge', '3' as unknown as number, { pool: 'a' });
      o.gauge('ok_gauge', 1, null as unknown as Record<string, string>);
    }).not.toThrow();
    expect(await dropped('invalid_name')).toBe(8);
    expect(await dropped('invalid_label_name')).toBe(3);
    expect(await dropped('invalid_label_value')).toBe(1);
    // `{ extra }`, `{}` and `null` (treated as no labels) differ from the first `{ pool }`.
    expect(await dropped('label_names_mismatch')).toBe(3);
    expect(await dropped('name_conflict')).toBe(1);
    expect(await value(m, 'ghostnet_observer_invalid_samples_total', { method: 'gauge' })).toBe(3);
    expect(await value(m, 'ghostnet_ok_gauge', { pool: 'a' })).toBe(1);
    // The built-in gauge was not replaced by the caller's gauge of the same name.
    expect(await value(m, 'ghostnet_connections_open', {})).toBeUndefined();
  });

  it('ignores non-finite and negative numbers and counts them by method', async () => {
    const m = make();
    const o = m.observer;
    const invalid = (method: keyof Observer) =>
      value(m, 'ghostnet_observer_invalid_samples_total', { method });
    expect(() => {
      o.bytesReceived('tcp', -1);
      o.bytesReceived('tcp', Number.NaN);
      o.bytesSent('tcp', Number.POSITIVE_INFINITY);
      o.connectionOpened('tcp');
      o.connectionClosed('tcp', -5);
      o.requestFinished('http1', 'GET', '200', Number.NaN);
    }).not.toThrow();
    expect(await invalid('bytesReceived')).toBe(2);
    expect(await invalid('bytesSent')).toBe(1);
    expect(await invalid('connectionClosed')).toBe(1);
    expect(await invalid('requestFinished')).toBe(1);
    expect(await value(m, 'ghostnet_bytes_received_total', { protocol: 'tcp' })).toBeUndefined();
    // The close still counted; only the bogus duration was skipped.
    expect(await value(m, 'ghostnet_connections_open', { protocol: 'tcp' })).toBe(0);
    const hist = 'ghostnet_connection_duration_seconds';
    expect(await value(m, hist, { protocol: 'tcp' }, `${hist}_count`)).toBeUndefined();
    // The request still counted; only its latency was skipped.
    expect(
      await value(m, 'ghostnet_requests_total', {
        protocol: 'http1',
        method: 'GET',
        outcome: '200',
      }),
    ).toBe(1);
  });

  it('drops label values that are too long or not strings', async () => {
    const m = make({ maxLabelValueLength: 8 });
    expect(() => {
      m.observer.bytesSent('a-very-long-protocol', 1);
      m.observer.error('tcp', 'GN_ERR_TOO_LONG_CODE');
      m.observer.connectionOpened(undefined as unknown as string);
      m.observer.requestFinished('h2', { m: 1 } as unknown as string, '200', 0.1);
    }).not.toThrow();
    expect(
      await value(m, 'ghostnet_observer_dropped_series_total', { reason: 'invalid_label_value' }),
    ).toBe(4);
    m.observer.bytesSent('exactly8', 1);
    expect(await value(m, 'ghostnet_bytes_sent_total', { protocol: 'exactly8' })).toBe(1);
  });

  it('caps the number of gauge series and keeps updating existing ones', async () => {
    const m = make({ maxGaugeSeries: 3 });
    for (let i = 0; i < 5; i++) m.observer.gauge('peers', i, { peer: `p${i}` });
    m.observer.gauge('another_gauge', 1);
    m.observer.gauge('peers', 42, { peer: 'p0' });
    expect(await value(m, 'ghostnet_peers', { peer: 'p0' })).toBe(42);
    expect(await value(m, 'ghostnet_peers', { peer: 'p2' })).toBe(2);
    expect(await value(m, 'ghostnet_peers', { peer: 'p3' })).toBeUndefined();
    expect(m.registry.getSingleMetric('ghostnet_another_gauge')).toBeUndefined();
    expect(
      await value(m, 'ghostnet_observer_dropped_series_total', { reason: 'series_limit' }),
    ).toBe(3);
  });

  it('caps label sets of the built-in metrics', async () => {
    const m = make({ maxSeriesPerMetric: 2 });
    for (const protocol of ['a', 'b', 'c', 'd']) m.observer.connectionOpened(protocol);
    for (const path of ['/1', '/2', '/3']) m.observer.requestFinished('http1', path, '200', 0.1);
    m.observer.bytesSent('a', 1);
    m.observer.bytesSent('c', 1);
    expect(await value(m, 'ghostnet_connections_opened_total', { protocol: 'b' })).toBe(1);
    expect(await value(m, 'ghostnet_connections_opened_total', { protocol: 'c' })).toBeUndefined();
    expect(await value(m, 'ghostnet_bytes_sent_total', { protocol: 'a' })).toBe(1);
    expect(await value(m, 'ghostnet_bytes_sent_total', { protocol: 'c' })).toBeUndefined();
    const req = 'ghostnet_requests_total';
    expect(
      await value(m, req, { protocol: 'http1', method: '/3', outcome: '200' }),
    ).toBeUndefined();
    // Protocols c and d, the request '/3' (its latency is then not attempted), bytesSent('c').
    expect(
      await value(m, 'ghostnet_observer_dropped_series_total', { reason: 'series_limit' }),
    ).toBe(4);
  });

  it('keeps label tuples with separator-like characters apart', async () => {
    const m = make();
    m.observer.error('a,b', 'c');
    m.observer.error('a', 'b,c');
    m.observer.error('1:a', '');
    m.observer.error('', '1:a');
    expect(await value(m, 'ghostnet_errors_total', { protocol: 'a,b', code: 'c' })).toBe(1);
    expect(await value(m, 'ghostnet_errors_total', { protocol: 'a', code: 'b,c' })).toBe(1);
    expect(await value(m, 'ghostnet_errors_total', { protocol: '1:a', code: '' })).toBe(1);
    expect(await value(m, 'ghostnet_errors_total', { protocol: '', code: '1:a' })).toBe(1);
  });
});

describe('Metrics registry', () => {
  it('uses its own registry: instances are independent and the global one stays empty', async () => {
    const before = globalRegistry.getMetricsAsArray().length;
    const a = make();
    const b = make({ collectProcessMetrics: true });
    a.observer.bytesSent('tcp', 1);
    expect(await value(a, 'ghostnet_bytes_sent_total', { protocol: 'tcp' })).toBe(1);
    expect(await value(b, 'ghostnet_bytes_sent_total', { protocol: 'tcp' })).toBeUndefined();
    expect(a.registry).not.toBe(b.registry);
    expect(globalRegistry.getMetricsAsArray().length).toBe(before);
  });

  it('applies the prefix option, including an empty prefix', async () => {
    const m = make({ prefix: 'app_' });
    m.observer.connectionOpened('tcp');
    m.observer.gauge('pool_size', 2);
    const { body } = await m.exposition();
    expect(body).toContain('app_connections_opened_total{protocol="tcp"} 1');
    expect(body).toContain('app_pool_size 2');
    expect(body).not.toContain('ghostnet_');
    const bare = make({ prefix: '' });
    bare.observer.error('dht', 'GN_ERR_X');
    expect((await bare.exposition()).body).toMatch(
      /^errors_total\{protocol="dht",code="GN_ERR_X"\} 1$/m,
    );
  });

  it('validates its options with coded errors', () => {
    expectCode(() => make({ prefix: 'bad-prefix' }), 'GN_ERR_INVALID_OPTION');
    expectCode(() => make({ prefix: '9lives_' }), 'GN_ERR_INVALID_OPTION');
    expectCode(() => make({ latencyBuckets: [] }), 'GN_ERR_INVALID_OPTION');
    expectCode(() => make({ latencyBuckets: [0.1, 0.1] }), 'GN_ERR_INVALID_OPTION');
    expectCode(() => make({ latencyBuckets: [0.1, Infinity] }), 'GN_ERR_INVALID_OPTION');
    expectCode(
      () => make({ connectionDurationBuckets: Array.from({ length: 65 }, (_, i) => i + 1) }),
      'GN_ERR_INVALID_OPTION',
    );
    expectCode(() => make({ maxGaugeSeries: 0 }), 'GN_ERR_INVALID_OPTION');
    expectCode(() => make({ maxGaugeSeries: Infinity }), 'GN_ERR_INVALID_OPTION');
    expectCode(() => make({ maxSeriesPerMetric: 1.5 }), 'GN_ERR_INVALID_OPTION');
    expectCode(() => make({ maxLabelValueLength: -1 }), 'GN_ERR_INVALID_OPTION');
    expectCode(() => make({ defaultLabels: { 'bad-name': 'x' } }), 'GN_ERR_INVALID_OPTION');
    expectCode(() => make({ defaultLabels: { protocol: 'x' } }), 'GN_ERR_INVALID_OPTION');
    expectCode(() => make({ defaultLabels: { le: 'x' } }), 'GN_ERR_INVALID_OPTION');
    expectCode(
      () => make({ defaultLabels: { node: 1 as unknown as string } }),
      'GN_ERR_INVALID_OPTION',
    );
  });

  it('uses custom histogram buckets', async () => {
    const m = make({ latencyBuckets: [0.5, 2], connectionDurationBuckets: [60] });
    m.observer.requestFinished('h2', 'GET', '200', 1);
    m.observer.connectionClosed('h2', 30);
    const { body } = await m.exposition();
    expect(body).toContain(
      'ghostnet_request_duration_seconds_bucket{le="2",protocol="h2",method="GET"} 1',
    );
    expect(body).toContain(
      'ghostnet_request_duration_seconds_bucket{le="0.5",protocol="h2",method="GET"} 0',
    );
    expect(body).not.toContain('le="0.005"');
    expect(body).toContain('ghostnet_connection_duration_seconds_bucket{le="60",protocol="h2"} 1');
  });

  it('exposes custom metrics registered on its registry', async () => {
    const m = make();
    const custom = new Counter({
      name: 'app_jobs_total',
      help: 'Jobs.',
      registers: [m.registry],
    });
    custom.inc(3);
    expect((await m.exposition()).body).toMatch(/^app_jobs_total 3$/m);
  });

  it('clear() resets values and forgets gauges and series budgets', async () => {
    const m = make({ maxGaugeSeries: 1 });
    m.observer.connectionOpened('tcp');
    m.observer.gauge('first', 1);
    m.observer.gauge('second', 1);
    m.clear();
    expect(
      await value(m, 'ghostnet_connections_opened_total', { protocol: 'tcp' }),
    ).toBeUndefined();
    expect(m.registry.getSingleMetric('ghostnet_first')).toBeUndefined();
    m.observer.gauge('second', 2);
    expect(await value(m, 'ghostnet_second', {})).toBe(2);
    m.observer.connectionOpened('tcp');
    expect(await value(m, 'ghostnet_connections_open', { protocol: 'tcp' })).toBe(1);
  });

  it('rejects with a coded error when a custom collector fails', async () => {
    const m = make();
    new Gauge({
      name: 'app_broken',
      help: 'Broken collector.',
      registers: [m.registry],
      collect() {
        throw new Error('collector exploded');
      },
    });
    await expect(m.exposition()).rejects.toMatchObject({ code: 'GN_ERR_METRICS_COLLECT' });
  });
});

describe('process metrics', () => {
  it('are included by default, conventionally named and without _total gauges', async () => {
    const m = new Metrics();
    created.push(m);
    const { body } = await m.exposition();
    expect(body).toMatch(/^# TYPE process_cpu_user_seconds_total counter$/m);
    expect(body).toMatch(/^# TYPE nodejs_heap_size_used_bytes gauge$/m);
    expect(body).toMatch(/^# TYPE nodejs_eventloop_lag_seconds gauge$/m);
    expect(body).not.toContain('nodejs_active_handles_total');
    expect(body).not.toContain('nodejs_active_requests_total');
    const gaugesNamedTotal = [...body.matchAll(/^# TYPE (\S+_total) (\S+)$/gm)].filter(
      (match) => match[2] !== 'counter',
    );
    expect(gaugesNamedTotal).toEqual([]);
  });

  it('carry the default labels of each registry that shows them', async () => {
    const a = make({ collectProcessMetrics: true, defaultLabels: { node: 'a' } });
    const b = make({ collectProcessMetrics: true, defaultLabels: { node: 'b' } });
    expect((await a.exposition()).body).toMatch(/^process_start_time_seconds\{node="a"\} \d+$/m);
    expect((await b.exposition()).body).toMatch(/^process_start_time_seconds\{node="b"\} \d+$/m);
  });

  it('are left out when disabled, and detached by stop() (idempotent)', async () => {
    const off = make();
    expect((await off.exposition()).body).not.toContain('process_cpu');
    const on = make({ collectProcessMetrics: true });
    on.observer.bytesSent('tcp', 1);
    on.stop();
    on.stop();
    const { body } = await on.exposition();
    expect(body).not.toContain('process_cpu');
    expect(body).toContain('ghostnet_bytes_sent_total{protocol="tcp"} 1');
  });
});

describe('exposition', () => {
  it('renders the Prometheus text format with escaped label values', async () => {
    const m = make({ defaultLabels: { node: 'n1' } });
    m.observer.requestFinished('http1', 'GET', 'quote"back\\slash\nnewline', 0.01);
    const { contentType, body } = await m.exposition();
    expect(contentType).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(body).toContain('# TYPE ghostnet_requests_total counter');
    expect(body).toContain(
      'ghostnet_requests_total{protocol="http1",method="GET",outcome="quote\\"back\\\\slash\\nnewline",node="n1"} 1',
    );
    expect(body.endsWith('\n')).toBe(true);
  });

  it('renders OpenMetrics without corrupting later Prometheus scrapes', async () => {
    const m = make({ defaultLabels: { node: 'n1' } });
    m.observer.bytesSent('tcp', 9);
    m.observer.gauge('queue_depth', 2);
    const om = await m.exposition({ openMetrics: true });
    expect(om.contentType).toBe(OPENMETRICS_CONTENT_TYPE);
    expect(om.body).toContain('# TYPE ghostnet_bytes_sent counter');
    expect(om.body).toContain('ghostnet_bytes_sent_total{protocol="tcp",node="n1"} 9');
    expect(om.body).toContain('ghostnet_queue_depth{node="n1"} 2');
    expect(om.body.endsWith('# EOF\n')).toBe(true);
    const text = await m.exposition();
    expect(text.body).toContain('# TYPE ghostnet_bytes_sent_total counter');
    expect(text.body).toContain('ghostnet_bytes_sent_total{protocol="tcp",node="n1"} 9');
    expect(text.body).not.toContain('# EOF');
  });

  it('negotiates the format from an Accept header', async () => {
    const m = make();
    const scraper =
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    expect((await m.exposition({ accept: scraper })).contentType).toBe(OPENMETRICS_CONTENT_TYPE);
    expect((await m.exposition({ accept: 'text/plain' })).contentType).toBe(
      PROMETHEUS_CONTENT_TYPE,
    );
    expect((await m.exposition({ accept: scraper, openMetrics: false })).contentType).toBe(
      PROMETHEUS_CONTENT_TYPE,
    );
  });

  it.each([
    [undefined, false],
    ['', false],
    ['*/*', false],
    ['application/openmetrics-text', true],
    ['application/openmetrics-text; version=1.0.0; charset=utf-8', true],
    ['application/openmetrics-text;version=0.0.1', false],
    ['text/plain;q=0.9, application/openmetrics-text;q=0.8', false],
    ['text/plain;q=0.5, Application/OpenMetrics-Text;q=0.8', true],
    ['application/openmetrics-text;q=0', false],
    ['application/openmetrics-text;q=bogus', false],
    ['text/plain, application/openmetrics-text', false],
  ])('prefersOpenMetrics(%j) is %s', (accept, expected) => {
    expect(prefersOpenMetrics(accept)).toBe(expected);
  });
});
