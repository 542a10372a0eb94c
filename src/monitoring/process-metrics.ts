/**
 * The Node.js process metrics (CPU, memory, heap, event-loop lag, GC, handles, file
 * descriptors, version) from prom-client's `collectDefaultMetrics`, created once per process
 * and shared by every `Metrics` instance that asks for them.
 *
 * Why shared: each `collectDefaultMetrics` call starts a GC `PerformanceObserver` and an
 * event-loop delay histogram that prom-client never stops. Calling it once per `Metrics`
 * instance would leak one of each per instance (tests create many). The metric objects
 * themselves are plain collectors and may sit in several registries at once; each
 * registry applies its own default labels when it renders them.
 *
 * Names are the conventional unprefixed `process_*` and `nodejs_*`, so standard
 * dashboards work. prom-client also emits `nodejs_active_handles_total`,
 * `nodejs_active_requests_total` and `nodejs_active_resources_total` as gauges; a `_total`
 * suffix on a non-counter breaks Prometheus naming (promtool rejects it), and each one is
 * just the sum of the labelled `nodejs_active_*` gauge next to it, so they are left out.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * What prom-client's metric objects look like at runtime. Its typings declare
 * `Registry#getMetricsAsArray()` as returning plain `MetricObject`s, which hides the
 * methods every metric has; this is the part of the runtime shape ghostnet relies on.
 */
export interface MetricHandle {
  name: string;
  readonly type: string;
  readonly help: string;
  get(): Promise<{ name: string; help: string; type: string; values: unknown[] }>;
  getForPromString?(): Promise<{ name: string; help: string; type: string; values: unknown[] }>;
  reset(): void;
}

/** Every metric object in `registry`, typed by its runtime shape. */
export function metricsOf(registry: Registry): MetricHandle[] {
  return registry.getMetricsAsArray() as unknown as MetricHandle[];
}

/**
 * Intentionally module-level (STYLE §8 exception): the collectors behind these metrics
 * are process-wide and cannot be stopped, so exactly one set may exist per process.
 */
let shared: readonly MetricHandle[] | undefined;

/** The shared process metrics, created on first use. */
export function processMetrics(): readonly MetricHandle[] {
  if (shared === undefined) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    shared = Object.freeze(
      metricsOf(registry).filter(
        (metric) => !(metric.type !== 'counter' && metric.name.endsWith('_total')),
      ),
    );
  }
  return shared;
}
