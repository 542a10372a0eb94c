/**
 * The Observer hot path keeps counts in cached series and hands them to prom-client when
 * the registry is read; what a scrape shows must not change.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LATENCY_BUCKETS, Metrics } from '../../src/monitoring/metrics.js';

function lines(text: string, name: string): string {
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

describe('Metrics observer fast path', () => {
  it('renders requests and latency exactly as prom-client observing each sample would', async () => {
    const m = new Metrics({ collectProcessMetrics: false });
    const reference = new Registry();
    const requests = new Counter({
      name: 'ghostnet_requests_total',
      help: 'x',
      labelNames: ['protocol', 'method', 'outcome'],
      registers: [reference],
    });
    const latency = new Histogram({
      name: 'ghostnet_request_duration_seconds',
      help: 'x',
      labelNames: ['protocol', 'method'],
      buckets: [...DEFAULT_LATENCY_BUCKETS],
      registers: [reference],
    });
    const samples = [0.0001, 0.0005, 0.00050001, 0.001, 0.2, 3, 30, 31, 1000];
    for (let round = 0; round < 3; round++) {
      for (const v of samples) {
        m.observer.requestFinished('http1', 'GET', '200', v);
        requests.inc({ protocol: 'http1', method: 'GET', outcome: '200' });
        latency.observe({ protocol: 'http1', method: 'GET' }, v);
      }
      // A number outcome and its string share one series.
      m.observer.requestFinished('h2', 'POST', 500 as unknown as string, 0.3);
      m.observer.requestFinished('h2', 'POST', '500', 0.3);
      requests.inc({ protocol: 'h2', method: 'POST', outcome: '500' }, 2);
      latency.observe({ protocol: 'h2', method: 'POST' }, 0.3);
      latency.observe({ protocol: 'h2', method: 'POST' }, 0.3);
      const ours = (await m.exposition()).body;
      const theirs = await reference.metrics();
      for (const name of ['ghostnet_requests_total', 'ghostnet_request_duration_seconds']) {
        expect(lines(ours, name)).toBe(lines(theirs, name));
      }
      const json = await m.registry.getSingleMetric('ghostnet_request_duration_seconds')!.get();
      expect(json.values).toEqual((await latency.get()).values);
    }
    const open = (await m.exposition({ openMetrics: true })).body;
    expect(open).toContain(
      'ghostnet_requests_total{protocol="http1",method="GET",outcome="200"} 27',
    );
    expect(open).toContain(
      'ghostnet_request_duration_seconds_count{protocol="h2",method="POST"} 6',
    );
  });

  it('counts bytes and connections, and forgets pending counts on reset and clear', async () => {
    const m = new Metrics({ collectProcessMetrics: false });
    const o = m.observer;
    o.connectionOpened('http1');
    o.bytesReceived('http1', 100);
    o.bytesReceived('http1', 50);
    o.bytesSent('http1', 7);
    o.requestFinished('http1', 'GET', '200', 0.01);
    let text = (await m.exposition()).body;
    expect(text).toContain('ghostnet_bytes_received_total{protocol="http1"} 150');
    expect(text).toContain('ghostnet_bytes_sent_total{protocol="http1"} 7');
    expect(text).toContain('ghostnet_connections_opened_total{protocol="http1"} 1');

    o.bytesReceived('http1', 5);
    o.requestFinished('http1', 'GET', '200', 0.01);
    await m.registry.resetMetrics();
    o.bytesReceived('http1', 3);
    o.requestFinished('http1', 'GET', '200', 0.02);
    text = (await m.exposition()).body;
    expect(text).toContain('ghostnet_bytes_received_total{protocol="http1"} 3');
    expect(text).toContain(
      'ghostnet_requests_total{protocol="http1",method="GET",outcome="200"} 1',
    );
    expect(text).toContain(
      'ghostnet_request_duration_seconds_sum{protocol="http1",method="GET"} 0.02',
    );

    o.bytesReceived('http1', 9);
    m.clear();
    o.bytesSent('http1', 4);
    text = (await m.exposition()).body;
    expect(text).not.toContain('ghostnet_bytes_received_total{protocol="http1"}');
    expect(text).toContain('ghostnet_bytes_sent_total{protocol="http1"} 4');
    expect(text).not.toContain('ghostnet_requests_total{');
  });

  it('keeps counting invalid samples and refused series on the fast path', async () => {
    const m = new Metrics({ collectProcessMetrics: false, maxSeriesPerMetric: 1 });
    const o = m.observer;
    o.requestFinished('http1', 'GET', '200', 0.01);
    o.requestFinished('http1', 'GET', '200', Number.NaN);
    o.requestFinished('http1', 'GET', '404', 0.01);
    o.requestFinished('http1', 'GET', '404', 0.01);
    o.bytesSent('http1', -1);
    const text = (await m.exposition()).body;
    expect(text).toContain(
      'ghostnet_requests_total{protocol="http1",method="GET",outcome="200"} 2',
    );
    expect(text).toContain('ghostnet_observer_invalid_samples_total{method="requestFinished"} 1');
    expect(text).toContain('ghostnet_observer_invalid_samples_total{method="bytesSent"} 1');
    expect(text).toContain('ghostnet_observer_dropped_series_total{reason="series_limit"} 2');
    expect(text).toContain(
      'ghostnet_request_duration_seconds_count{protocol="http1",method="GET"} 1',
    );
  });
});
