/**
 * Text exposition formats: the Prometheus text format 0.0.4 and OpenMetrics 1.0, and the
 * `Accept` header negotiation between them.
 *
 * Prometheus text is rendered by prom-client directly. For OpenMetrics we do not call
 * `metrics()` on an OpenMetrics-typed registry that holds our metric objects: prom-client
 * renames every counter it renders that way (it strips `_total` from `metric.name` in
 * place), which would corrupt the next Prometheus-format scrape of the same metrics.
 * Instead each metric is wrapped in a read-only view that reports the OpenMetrics family
 * name, and only the views are handed to a throw-away OpenMetrics registry.
 */
import { Registry } from 'prom-client';
import type { Metric, OpenMetricsContentType } from 'prom-client';
import type { MetricHandle } from './process-metrics.js';

/** Content type of the Prometheus text exposition format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Content type of the OpenMetrics 1.0 text format. */
export const OPENMETRICS_CONTENT_TYPE =
  'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** The longest `Accept` header value inspected; the rest is ignored. */
const MAX_ACCEPT_LENGTH = 4096;

/** Renders `metrics` in the OpenMetrics 1.0 text format, ending with `# EOF`. */
export async function renderOpenMetrics(
  metrics: readonly MetricHandle[],
  defaultLabels: Readonly<Record<string, string>>,
): Promise<string> {
  const registry = new Registry<OpenMetricsContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  registry.setDefaultLabels({ ...defaultLabels });
  for (const metric of metrics) {
    // OpenMetrics names the counter family without `_total`; prom-client appends it to
    // each sample when rendering an OpenMetrics registry.
    const family = metric.type === 'counter' ? metric.name.replace(/_total$/, '') : metric.name;
    const view = {
      name: family,
      type: metric.type,
      help: metric.help,
      reset(): void {},
      async get() {
        const data =
          metric.getForPromString !== undefined
            ? await metric.getForPromString()
            : await metric.get();
        return { ...data, name: family };
      },
    };
    registry.registerMetric(view as unknown as Metric);
  }
  return registry.metrics();
}

/**
 * True when an HTTP `Accept` header asks for OpenMetrics 1.0 more strongly (higher q) than
 * for the Prometheus text format; false for a missing header, a tie or anything else.
 * Prometheus itself sends `application/openmetrics-text;version=1.0.0,…,text/plain;
 * version=0.0.4;q=0.5` followed by a low-q wildcard, which selects OpenMetrics.
 */
export function prefersOpenMetrics(accept: string | undefined): boolean {
  if (typeof accept !== 'string' || accept.length === 0) return false;
  let openMetricsQ = 0;
  let textQ = 0;
  for (const range of accept.slice(0, MAX_ACCEPT_LENGTH).split(',')) {
    const [mediaType = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    let q = 1;
    let version: string | undefined;
    for (const param of params) {
      const eq = param.indexOf('=');
      if (eq < 0) continue;
      const key = param.slice(0, eq).trim();
      const value = param.slice(eq + 1).trim();
      if (key === 'q') {
        const parsed = Number(value);
        q = Number.isFinite(parsed) ? Math.min(Math.max(parsed, 0), 1) : 0;
      } else if (key === 'version') {
        version = value;
      }
    }
    if (mediaType === 'application/openmetrics-text') {
      if (version === undefined || version === '1.0.0') openMetricsQ = Math.max(openMetricsQ, q);
    } else if (mediaType === 'text/plain' || mediaType === 'text/*' || mediaType === '*/*') {
      textQ = Math.max(textQ, q);
    }
  }
  return openMetricsQ > 0 && openMetricsQ > textQ;
}
