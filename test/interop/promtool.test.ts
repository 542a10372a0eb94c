/**
 * Interop: the metrics exposition is checked by independent parsers.
 *
 * - Prometheus text format 0.0.4 → `promtool check metrics` (Debian package `prometheus`),
 *   which parses the text and lints names, types and help strings.
 * - OpenMetrics 1.0 → the strict OpenMetrics parser of the Python Prometheus client
 *   (Debian package `python3-prometheus-client`); promtool only reads the 0.0.4 format.
 *
 * Both peers come from scripts/install-peers.sh. A missing peer fails the test: it must
 * never pass by not running.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/monitoring/metrics.js';

const TRICKY = 'quote" backslash\\ newline\n tab\t unicode-é ✓';
let dir: string;
let metrics: Metrics;

/** Populates a registry through every Observer method, tricky label values included. */
function populate(m: Metrics): void {
  const o = m.observer;
  for (const protocol of ['tcp', 'tls', 'memory']) {
    o.connectionOpened(protocol);
    o.connectionOpened(protocol);
    o.connectionClosed(protocol, 12.5);
    o.bytesReceived(protocol, 4096);
    o.bytesSent(protocol, 1024);
  }
  o.connectionClosed('quic', 0);
  o.requestFinished('http1', 'GET', '200', 0.0042);
  o.requestFinished('http1', 'POST', '503', 1.7);
  o.requestFinished('h2', 'GET', TRICKY, 0.02);
  o.requestFinished('dht', 'get_peers', 'timeout', 45);
  o.error('h2', 'GN_ERR_H2_FLOW_CONTROL');
  o.error(TRICKY, 'GN_ERR_X');
  o.gauge('pool_idle_connections', 3, { origin: 'https://example.test:443' });
  o.gauge('pool_idle_connections', 0, { origin: TRICKY });
  o.gauge('dht_routing_table_nodes', 160);
  o.gauge('gossip_members', 5, { state: 'alive' });
  o.gauge('gossip_members', 1, { state: 'suspect' });
  o.gauge('queue_depth', -2.5);
  // Reports that are dropped and counted rather than exposed.
  o.gauge('bad-name', 1);
  o.gauge('gossip_members', 1, { other: 'label' });
  o.bytesSent('tcp', Number.NaN);
}

function missingPeer(tool: string, pkg: string): Error {
  return new Error(
    `${tool} is not installed (Debian package ${pkg}). Run scripts/install-peers.sh to install the interop peers.`,
  );
}

function writeTemp(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, body);
  return file;
}

/** Runs `command args < file` and returns its exit status and output. */
function runWithStdin(
  command: string,
  args: string[],
  file: string,
): { status: number | null; stdout: string; stderr: string; missing: boolean } {
  const fd = openSync(file, 'r');
  try {
    const result = spawnSync(command, args, {
      stdio: [fd, 'pipe', 'pipe'],
      encoding: 'utf8',
      timeout: 60_000,
    });
    const missing = (result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
    if (result.error !== undefined && !missing) throw result.error;
    return {
      status: result.status,
      stdout: result.stdout ?? '',
      stderr: result.stderr ?? '',
      missing,
    };
  } finally {
    closeSync(fd);
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ghostnet-promtool-'));
  metrics = new Metrics({ defaultLabels: { node: 'interop-1' } });
  populate(metrics);
});

afterAll(() => {
  metrics.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Prometheus text format', () => {
  it('passes promtool check metrics with no lint problems', async () => {
    const { body } = await metrics.exposition();
    // Sanity: the exposition really contains what promtool is asked to judge.
    expect(body).toContain('# TYPE process_cpu_seconds_total counter');
    expect(body).toContain('# TYPE ghostnet_request_duration_seconds histogram');
    expect(body).toContain('outcome="quote\\" backslash\\\\ newline\\n tab\t unicode-é ✓"');
    expect(body).toMatch(
      /^ghostnet_observer_dropped_series_total\{reason="invalid_name",node="interop-1"\} 1$/m,
    );
    const file = writeTemp('metrics.prom', body);
    const result = runWithStdin('promtool', ['check', 'metrics'], file);
    if (result.missing) throw missingPeer('promtool', 'prometheus');
    expect(`${result.stdout}${result.stderr}`.trim(), `promtool output for ${file}`).toBe('');
    expect(result.status).toBe(0);
  });

  it('promtool rejects a broken exposition (the check can fail)', () => {
    const file = writeTemp(
      'broken.prom',
      '# TYPE ghostnet_x_total counter\nghostnet_x_total{a="unterminated} 1\n',
    );
    const result = runWithStdin('promtool', ['check', 'metrics'], file);
    if (result.missing) throw missingPeer('promtool', 'prometheus');
    expect(result.status).not.toBe(0);
  });
});

const PARSE_OPENMETRICS = `
import json, math, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
def num(v):
    # JSON has no NaN or Inf (a gauge may legitimately hold NaN); send those as strings.
    return v if math.isfinite(v) else str(v)
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": family.name, "type": family.type,
                "samples": [{"name": s.name, "labels": s.labels, "value": num(s.value)} for s in family.samples]})
print(json.dumps(out))
`;

function python(): string {
  // Prefer the system interpreter, where the Debian package installs the module.
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

describe('OpenMetrics format', () => {
  it('parses with the strict OpenMetrics parser and round-trips values', async () => {
    const { body, contentType } = await metrics.exposition({ openMetrics: true });
    expect(contentType).toContain('application/openmetrics-text');
    const file = writeTemp('metrics.om', body);
    const result = runWithStdin(python(), ['-c', PARSE_OPENMETRICS], file);
    if (result.missing || result.stderr.includes("No module named 'prometheus_client'")) {
      throw missingPeer('The Python Prometheus client', 'python3-prometheus-client');
    }
    expect(result.stderr, `parser output for ${file}`).toBe('');
    expect(result.status).toBe(0);
    type Family = {
      name: string;
      type: string;
      samples: { name: string; labels: Record<string, string>; value: number | string }[];
    };
    const families = JSON.parse(result.stdout) as Family[];
    const byName = new Map(families.map((f) => [f.name, f]));
    expect(byName.get('ghostnet_requests')?.type).toBe('counter');
    expect(byName.get('ghostnet_request_duration_seconds')?.type).toBe('histogram');
    expect(byName.get('ghostnet_connections_open')?.type).toBe('gauge');
    expect(byName.get('process_cpu_seconds')?.type).toBe('counter');
    const tricky = byName
      .get('ghostnet_requests')
      ?.samples.find((s) => s.labels.outcome === TRICKY);
    expect(tricky).toMatchObject({
      name: 'ghostnet_requests_total',
      value: 1,
      labels: { protocol: 'h2', method: 'GET', node: 'interop-1' },
    });
    const idle = byName.get('ghostnet_pool_idle_connections')?.samples;
    expect(idle?.map((s) => s.labels.origin).sort()).toEqual(
      ['https://example.test:443', TRICKY].sort(),
    );
    expect(byName.get('ghostnet_queue_depth')?.samples[0]?.value).toBe(-2.5);
  });

  it('the OpenMetrics parser rejects a broken exposition (the check can fail)', () => {
    const file = writeTemp('broken.om', '# TYPE ghostnet_x counter\nghostnet_x_total 1\n');
    const result = runWithStdin(python(), ['-c', PARSE_OPENMETRICS], file);
    if (result.missing || result.stderr.includes("No module named 'prometheus_client'")) {
      throw missingPeer('The Python Prometheus client', 'python3-prometheus-client');
    }
    // No `# EOF` terminator: a strict parser must refuse it.
    expect(result.status).not.toBe(0);
  });
});
