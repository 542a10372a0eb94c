/**
 * Prometheus metrics for ghostnet on a prom-client registry of their own (DESIGN §6).
 *
 * Protocol bindings never import prom-client: they call the `Observer` interface
 * (`observer.ts`), and `Metrics#observer` implements it on counters, gauges and histograms
 * named after the Prometheus conventions (https://prometheus.io/docs/practices/naming/):
 *
 * | Observer call       | Series (with the default `ghostnet_` prefix)                      |
 * | ------------------- | ----------------------------------------------------------------- |
 * | connectionOpened    | `ghostnet_connections_opened_total{protocol}` counter,            |
 * |                     | `ghostnet_connections_open{protocol}` gauge (+1)                  |
 * | connectionClosed    | `ghostnet_connections_open{protocol}` gauge (−1, never below 0),  |
 * |                     | `ghostnet_connection_duration_seconds{protocol}` histogram        |
 * |                     | (its `_count` is the number of connections closed)                |
 * | bytesReceived/Sent  | `ghostnet_bytes_received_total{protocol}`, `…_bytes_sent_total`   |
 * | requestFinished     | `ghostnet_requests_total{protocol,method,outcome}` counter,       |
 * |                     | `ghostnet_request_duration_seconds{protocol,method}` histogram    |
 * | error               | `ghostnet_errors_total{protocol,code}` counter                    |
 * | gauge(name, v, l)   | `ghostnet_<name>{…l}` gauge, created on first use                 |
 *
 * Observer methods never throw. Input they cannot record is dropped and counted:
 * - `ghostnet_observer_dropped_series_total{reason}`: a new series refused because a series
 *   limit was reached (`series_limit`), or because a name, label name or label value was
 *   invalid (`invalid_name`, `invalid_label_name`, `invalid_label_value`), a gauge was
 *   reported with other label names than the first time (`label_names_mismatch`) or its
 *   name is already taken by another metric (`name_conflict`).
 * - `ghostnet_observer_invalid_samples_total{method}`: a count, value or duration that is
 *   not a finite number (or is negative where that makes no sense).
 *
 * Every label set is held in a bounded table (`maxSeriesPerMetric`, `maxGaugeSeries`), so a
 * caller that puts unbounded values in labels cannot grow memory without bound.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { GhostnetError, InvalidOptionError } from '../errors.js';
import {
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  prefersOpenMetrics,
  renderOpenMetrics,
} from './exposition.js';
import {
  bucketProblem,
  hasReservedGaugeSuffix,
  isValidLabelName,
  isValidMetricName,
  isValidPrefix,
  labelKey,
} from './metric-names.js';
import type { Observer } from './observer.js';
import { metricsOf, processMetrics } from './process-metrics.js';
import type { MetricHandle } from './process-metrics.js';

/**
 * Default buckets (seconds) for `request_duration_seconds`: 0.5 ms to 30 s, roughly
 * ×2–2.5 apart, which covers loopback RPCs as well as slow uploads.
 */
export const DEFAULT_LATENCY_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]);

/** Default buckets (seconds) for `connection_duration_seconds`: 10 ms to one day. */
export const DEFAULT_CONNECTION_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.01, 0.1, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 14_400, 86_400,
]);

/** The most buckets a histogram may have (each bucket is one series per label set). */
const MAX_BUCKETS = 64;
/** The most labels a gauge reported through `Observer.gauge` may carry. */
const MAX_GAUGE_LABELS = 16;
/** Upper bound for the numeric limits, to catch unit mistakes. */
const MAX_LIMIT = 1_000_000;

export interface MetricsOptions {
  /**
   * Prepended to every ghostnet metric name. Must be a valid metric-name start (letters,
   * digits, underscores, not starting with a digit) or ''. Process metrics keep their
   * conventional `process_*` and `nodejs_*` names.
   * @default 'ghostnet_'
   */
  prefix?: string;
  /**
   * Labels added to every series of this registry at exposition time (e.g. `{ node: 'a' }`).
   * Set them here rather than with `registry.setDefaultLabels`, so both formats carry them.
   * @default {}
   */
  defaultLabels?: Readonly<Record<string, string>>;
  /**
   * Include the Node.js process metrics (CPU, memory, heap, event-loop lag, GC, handles,
   * file descriptors) from prom-client's `collectDefaultMetrics`. Their collectors are
   * process-wide and shared by every `Metrics` instance (see `process-metrics.ts`).
   * @default true
   */
  collectProcessMetrics?: boolean;
  /**
   * Upper bounds, in seconds, of the `request_duration_seconds` histogram buckets:
   * finite, strictly increasing, at most 64 (+Inf is implied).
   * @default DEFAULT_LATENCY_BUCKETS (0.0005 … 30)
   */
  latencyBuckets?: readonly number[];
  /**
   * Upper bounds, in seconds, of the `connection_duration_seconds` histogram buckets.
   * @default DEFAULT_CONNECTION_DURATION_BUCKETS (0.01 … 86400)
   */
  connectionDurationBuckets?: readonly number[];
  /**
   * The most distinct series (gauge name + label values) `Observer.gauge` may create in
   * total. Further new series are dropped and counted in
   * `observer_dropped_series_total{reason="series_limit"}`; existing ones keep updating.
   * @default 2000
   */
  maxGaugeSeries?: number;
  /**
   * The most distinct label sets each built-in metric group may hold: protocols (shared by
   * the connection and byte metrics), protocol×method×outcome for requests,
   * protocol×method for request latency, protocol×code for errors. Beyond it new label
   * sets are dropped and counted like gauge series.
   * @default 1000
   */
  maxSeriesPerMetric?: number;
  /**
   * The longest label value accepted, in UTF-16 code units; longer values are dropped and
   * counted (`reason="invalid_label_value"`), never truncated into a wrong series.
   * @default 256
   */
  maxLabelValueLength?: number;
}

export interface ExpositionOptions {
  /**
   * Render OpenMetrics 1.0 instead of the Prometheus text format 0.0.4.
   * @default chosen from `accept`, else false
   */
  openMetrics?: boolean;
  /**
   * The scraper's HTTP `Accept` header; OpenMetrics is chosen when it asks for
   * `application/openmetrics-text` (version 1.0.0) with a higher q than `text/plain`.
   * Ignored when `openMetrics` is given.
   * @default undefined (Prometheus text format)
   */
  accept?: string;
}

export interface Exposition {
  /** The value for the HTTP `Content-Type` header. */
  readonly contentType: string;
  readonly body: string;
}

type DropReason =
  | 'series_limit'
  | 'invalid_name'
  | 'invalid_label_name'
  | 'invalid_label_value'
  | 'label_names_mismatch'
  | 'name_conflict'
  | 'internal';

type ObserverMethod = keyof Observer;

type Labels = Readonly<Record<string, string>>;

/** A bounded table of label sets: value tuple key → frozen labels object. */
class LabelTable {
  readonly #max: number;
  readonly #entries = new Map<string, Labels>();

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): Labels | undefined {
    return this.#entries.get(key);
  }

  /** Adds a label set; false when the table is full. */
  add(key: string, labels: Labels): boolean {
    if (this.#entries.has(key)) return true;
    if (this.#entries.size >= this.#max) return false;
    this.#entries.set(key, labels);
    return true;
  }

  clear(): void {
    this.#entries.clear();
  }
}

/** One counter series whose increments accumulate here until the counter is read. */
interface PendingSeries {
  readonly labels: Labels;
  pending: number;
}

/**
 * A Counter whose hot-path increments are plain additions to a `PendingSeries` (no label
 * hashing or validation per call, STYLE §12); they reach prom-client when the counter is
 * read (`get()`, which every registry and exposition path goes through). Series are
 * created only for label sets the bounded tables accepted, so they are bounded too.
 */
class DeferredCounter extends Counter<string> {
  // A plain field: prom-client's constructor calls reset() before subclass fields exist.
  private deferred: PendingSeries[] | undefined;

  /** The pending series for `labels` (already validated and frozen by the caller). */
  series(labels: Labels): PendingSeries {
    const series: PendingSeries = { labels, pending: 0 };
    (this.deferred ??= []).push(series);
    return series;
  }

  /** Moves pending increments into prom-client. */
  flush(): void {
    const list = this.deferred;
    if (list === undefined) return;
    for (const series of list) {
      const n = series.pending;
      if (n > 0) {
        series.pending = 0;
        this.inc(series.labels, n);
      }
    }
  }

  /** Drops every series (after `Metrics.clear()` has forgotten the label sets). */
  forget(): void {
    this.deferred = undefined;
  }

  override reset(): void {
    super.reset();
    // Increments not yet read belong to the period being reset.
    if (this.deferred !== undefined) for (const series of this.deferred) series.pending = 0;
  }

  override async get(): Promise<MetricObjectWithValues<MetricValue<string>>> {
    this.flush();
    return super.get();
  }
}

/** One histogram series: observations counted here, rendered when the histogram is read. */
interface HistogramSeries {
  readonly labels: Labels;
  /** Upper bounds, shared by every series of the histogram. */
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/** Records one observation: what prom-client's observe() does, minus the label hashing. */
function observeSeries(series: HistogramSeries, value: number): void {
  const bounds = series.bounds;
  let i = 0;
  while (i < bounds.length && value > bounds[i]!) i++;
  series.counts[i]! += 1;
  series.sum += value;
  series.count += 1;
}

interface ExportedSample {
  labels: Record<string, string | number>;
  sharedLabels: Labels;
  value: number;
  metricName: string;
  exemplar: null | undefined;
}

interface ExportedHistogram {
  name: string;
  help: string;
  type: string;
  values: ExportedSample[];
  aggregator: string;
}

type GetForPromString = (this: Histogram<string>) => Promise<ExportedHistogram>;

/**
 * A Histogram whose hot-path observations go to `HistogramSeries` it hands out (an array
 * walk and three additions, no label hashing per call, STYLE §12). They are rendered with
 * whatever prom-client itself holds (observations made through `observe()` directly) when
 * the histogram is read: `get()` and the registries go through `getForPromString()`.
 */
class DeferredHistogram extends Histogram<string> {
  // Plain fields: prom-client's constructor calls reset() before subclass fields exist.
  private deferred: HistogramSeries[] | undefined;
  private bounds: readonly number[] = [];

  constructor(config: ConstructorParameters<typeof Histogram<string>>[0]) {
    super(config);
    this.bounds = Object.freeze([...(config.buckets ?? [])]);
  }

  /** A new series for `labels` (validated, frozen, and not observed through `observe`). */
  series(labels: Labels): HistogramSeries {
    const series: HistogramSeries = {
      labels,
      bounds: this.bounds,
      counts: new Array<number>(this.bounds.length + 1).fill(0),
      sum: 0,
      count: 0,
    };
    (this.deferred ??= []).push(series);
    return series;
  }

  /** Drops every series (after `Metrics.clear()` has forgotten the label sets). */
  forget(): void {
    this.deferred = undefined;
  }

  override reset(): void {
    super.reset();
    if (this.deferred === undefined) return;
    for (const series of this.deferred) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }

  /** prom-client's rendering of its own series, followed by the deferred ones. */
  async getForPromString(): Promise<ExportedHistogram> {
    const base = (Histogram.prototype as unknown as { getForPromString: GetForPromString })
      .getForPromString;
    const data = await base.call(this);
    for (const series of this.deferred ?? []) {
      if (series.count === 0) continue;
      const shared = series.labels;
      const bucket = `${data.name}_bucket`;
      let cumulative = 0;
      series.bounds.forEach((le, i) => {
        cumulative += series.counts[i]!;
        data.values.push({
          labels: { le },
          sharedLabels: shared,
          value: cumulative,
          metricName: bucket,
          exemplar: null,
        });
      });
      const samples: Array<[Record<string, string>, number, string, null | undefined]> = [
        [{ le: '+Inf' }, series.count, bucket, null],
        [{}, series.sum, `${data.name}_sum`, undefined],
        [{}, series.count, `${data.name}_count`, undefined],
      ];
      for (const [labels, value, metricName, exemplar] of samples) {
        data.values.push({ labels, sharedLabels: shared, value, metricName, exemplar });
      }
    }
    return data;
  }
}

/** Per-protocol series of the byte and connection counters. */
interface ProtocolSeries {
  readonly labels: Labels;
  readonly opened: PendingSeries;
  readonly received: PendingSeries;
  readonly sent: PendingSeries;
}

/** A requests_total series and the latency labels of the same protocol and method. */
interface RequestSeries {
  readonly count: PendingSeries;
  readonly latency: HistogramSeries;
}

type RequestCache = Map<unknown, Map<unknown, Map<unknown, RequestSeries>>>;

interface DynamicGauge {
  readonly gauge: Gauge<string>;
  /** Sorted label names, fixed by the first report. */
  readonly labelNames: readonly string[];
  readonly series: Map<string, Labels>;
}

export class Metrics {
  readonly #registry = new Registry();
  readonly #prefix: string;
  readonly #defaultLabels: Labels;
  readonly #maxGaugeSeries: number;
  readonly #maxLabelValueLength: number;
  readonly #processMetrics: readonly MetricHandle[];

  readonly #opened: DeferredCounter;
  readonly #open: Gauge<string>;
  readonly #connectionDuration: Histogram<string>;
  readonly #bytesReceived: DeferredCounter;
  readonly #bytesSent: DeferredCounter;
  readonly #requests: DeferredCounter;
  readonly #requestDuration: DeferredHistogram;
  readonly #errors: Counter<string>;
  readonly #dropped: Counter<string>;
  readonly #invalidSamples: Counter<string>;

  readonly #protocols: LabelTable;
  readonly #requestLabels: LabelTable;
  readonly #latencyLabels: LabelTable;
  readonly #errorLabels: LabelTable;
  readonly #openCounts = new Map<string, number>();
  /** Accepted protocols (by the value reported) → their series: the hot-path lookup. */
  readonly #protocolSeries = new Map<unknown, ProtocolSeries>();
  readonly #protocolSeriesByLabels = new Map<Labels, ProtocolSeries>();
  /**
   * protocol → method → outcome (as reported) → series, for tuples whose request and
   * latency label sets were both accepted; bounded by those tables.
   */
  readonly #requestSeries: RequestCache = new Map();
  /** requests_total series by their (interned) label set. */
  readonly #requestCounts = new Map<Labels, PendingSeries>();
  /** request_duration_seconds series by their (interned) label set. */
  readonly #latencySeries = new Map<Labels, HistogramSeries>();
  readonly #gauges = new Map<string, DynamicGauge>();
  #gaugeSeries = 0;
  #stopped = false;

  readonly #observer: Observer;

  constructor(options: MetricsOptions = {}) {
    const prefix = options.prefix ?? 'ghostnet_';
    if (!isValidPrefix(prefix)) {
      throw new InvalidOptionError(
        `Invalid metrics prefix ${JSON.stringify(prefix)}: use letters, digits and underscores, not starting with a digit (e.g. 'ghostnet_'), or ''`,
      );
    }
    this.#prefix = prefix;
    this.#maxGaugeSeries = limitOption('maxGaugeSeries', options.maxGaugeSeries, 2000);
    const maxSeries = limitOption('maxSeriesPerMetric', options.maxSeriesPerMetric, 1000);
    this.#maxLabelValueLength = limitOption(
      'maxLabelValueLength',
      options.maxLabelValueLength,
      256,
    );
    this.#defaultLabels = validateDefaultLabels(options.defaultLabels ?? {});
    const latencyBuckets = bucketsOption(
      'latencyBuckets',
      options.latencyBuckets ?? DEFAULT_LATENCY_BUCKETS,
    );
    const connectionBuckets = bucketsOption(
      'connectionDurationBuckets',
      options.connectionDurationBuckets ?? DEFAULT_CONNECTION_DURATION_BUCKETS,
    );

    const registers = [this.#registry];
    const p = prefix;
    this.#opened = new DeferredCounter({
      name: `${p}connections_opened_total`,
      help: 'Connections opened, by protocol.',
      labelNames: ['protocol'],
      registers,
    });
    this.#open = new Gauge({
      name: `${p}connections_open`,
      help: 'Connections currently open, by protocol.',
      labelNames: ['protocol'],
      registers,
    });
    this.#connectionDuration = new Histogram({
      name: `${p}connection_duration_seconds`,
      help: 'Lifetime of closed connections in seconds, by protocol.',
      labelNames: ['protocol'],
      buckets: connectionBuckets,
      registers,
    });
    this.#bytesReceived = new DeferredCounter({
      name: `${p}bytes_received_total`,
      help: 'Bytes received, by protocol.',
      labelNames: ['protocol'],
      registers,
    });
    this.#bytesSent = new DeferredCounter({
      name: `${p}bytes_sent_total`,
      help: 'Bytes sent, by protocol.',
      labelNames: ['protocol'],
      registers,
    });
    this.#requests = new DeferredCounter({
      name: `${p}requests_total`,
      help: 'Requests finished, by protocol, method and outcome (status code or outcome name).',
      labelNames: ['protocol', 'method', 'outcome'],
      registers,
    });
    this.#requestDuration = new DeferredHistogram({
      name: `${p}request_duration_seconds`,
      help: 'Request duration in seconds, by protocol and method.',
      labelNames: ['protocol', 'method'],
      buckets: latencyBuckets,
      registers,
    });
    this.#errors = new Counter({
      name: `${p}errors_total`,
      help: 'Errors, by protocol and stable error code.',
      labelNames: ['protocol', 'code'],
      registers,
    });
    this.#dropped = new Counter({
      name: `${p}observer_dropped_series_total`,
      help: 'Observer reports dropped instead of creating a series, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.#invalidSamples = new Counter({
      name: `${p}observer_invalid_samples_total`,
      help: 'Observer reports ignored because a number was not finite or out of range, by method.',
      labelNames: ['method'],
      registers,
    });

    this.#protocols = new LabelTable(maxSeries);
    this.#requestLabels = new LabelTable(maxSeries);
    this.#latencyLabels = new LabelTable(maxSeries);
    this.#errorLabels = new LabelTable(maxSeries);

    this.#processMetrics = options.collectProcessMetrics === false ? [] : processMetrics();
    for (const metric of this.#processMetrics) {
      if (this.#registry.getSingleMetric(metric.name) !== undefined) {
        throw new InvalidOptionError(
          `Metric name ${metric.name} is taken by a process metric: choose another prefix`,
        );
      }
      this.#registry.registerMetric(metric as unknown as Counter<string>);
    }
    this.#registry.setDefaultLabels({ ...this.#defaultLabels });

    // Each method catches inline rather than through a helper taking a closure, so the
    // per-chunk and per-request paths allocate nothing extra (STYLE §12).
    this.#observer = Object.freeze<Observer>({
      connectionOpened: (protocol) => {
        try {
          this.#connectionOpened(protocol);
        } catch {
          this.#drop('internal');
        }
      },
      connectionClosed: (protocol, durationSeconds) => {
        try {
          this.#connectionClosed(protocol, durationSeconds);
        } catch {
          this.#drop('internal');
        }
      },
      bytesReceived: (protocol, count) => {
        const known = this.#protocolSeries.get(protocol);
        if (known !== undefined && isNonNegative(count)) {
          known.received.pending += count;
          return;
        }
        try {
          this.#bytes('bytesReceived', protocol, count);
        } catch {
          this.#drop('internal');
        }
      },
      bytesSent: (protocol, count) => {
        const known = this.#protocolSeries.get(protocol);
        if (known !== undefined && isNonNegative(count)) {
          known.sent.pending += count;
          return;
        }
        try {
          this.#bytes('bytesSent', protocol, count);
        } catch {
          this.#drop('internal');
        }
      },
      requestFinished: (protocol, method, outcome, durationSeconds) => {
        try {
          const known = this.#requestSeries.get(protocol)?.get(method)?.get(outcome);
          if (known !== undefined && isNonNegative(durationSeconds)) {
            known.count.pending += 1;
            observeSeries(known.latency, durationSeconds);
            return;
          }
          this.#requestFinished(protocol, method, outcome, durationSeconds);
        } catch {
          this.#drop('internal');
        }
      },
      error: (protocol, code) => {
        try {
          this.#error(protocol, code);
        } catch {
          this.#drop('internal');
        }
      },
      gauge: (name, value, labels) => {
        try {
          this.#gauge(name, value, labels);
        } catch {
          this.#drop('internal');
        }
      },
    });
  }

  /** The Observer protocol bindings report through. Its methods are bound and never throw. */
  get observer(): Observer {
    return this.#observer;
  }

  /** This instance's own prom-client registry, for custom metrics (pass it in `registers`). */
  get registry(): Registry {
    return this.#registry;
  }

  /** The metric name prefix in use. */
  get prefix(): string {
    return this.#prefix;
  }

  /**
   * Renders every metric of the registry. Rejects with `GN_ERR_METRICS_COLLECT` when a
   * metric's collect function fails (only custom metrics can).
   */
  async exposition(options: ExpositionOptions = {}): Promise<Exposition> {
    const openMetrics = options.openMetrics ?? prefersOpenMetrics(options.accept);
    try {
      if (openMetrics) {
        const body = await renderOpenMetrics(metricsOf(this.#registry), this.#defaultLabels);
        return { contentType: OPENMETRICS_CONTENT_TYPE, body };
      }
      return { contentType: PROMETHEUS_CONTENT_TYPE, body: await this.#registry.metrics() };
    } catch (err) {
      const message = `Collecting metrics failed: ${String(err)}`;
      throw new GhostnetError('GN_ERR_METRICS_COLLECT', message, { cause: err });
    }
  }

  /**
   * Resets every metric in the registry except the shared process metrics: counters and
   * histograms back to zero, open-connection counts forgotten, gauges created through
   * `Observer.gauge` removed, and every series table emptied. For tests and for reuse.
   */
  clear(): void {
    for (const metric of metricsOf(this.#registry)) {
      if (!this.#processMetrics.includes(metric)) metric.reset();
    }
    for (const { gauge } of this.#gauges.values()) {
      this.#registry.removeSingleMetric((gauge as unknown as MetricHandle).name);
    }
    this.#gauges.clear();
    this.#gaugeSeries = 0;
    this.#openCounts.clear();
    this.#protocolSeries.clear();
    this.#protocolSeriesByLabels.clear();
    this.#requestSeries.clear();
    this.#requestCounts.clear();
    this.#latencySeries.clear();
    this.#requestDuration.forget();
    for (const counter of [this.#opened, this.#bytesReceived, this.#bytesSent, this.#requests]) {
      counter.forget();
    }
    this.#protocols.clear();
    this.#requestLabels.clear();
    this.#latencyLabels.clear();
    this.#errorLabels.clear();
  }

  /**
   * Detaches the shared process metrics from this registry. The observer keeps counting
   * and `exposition()` keeps working without them. Idempotent; there are no timers to stop.
   */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const metric of this.#processMetrics) {
      if (this.#registry.getSingleMetric(metric.name) === (metric as unknown)) {
        this.#registry.removeSingleMetric(metric.name);
      }
    }
  }

  /**
   * Counts a dropped report; returns undefined so callers can `return this.#drop(…)`.
   * Reason 'internal' means prom-client refused something our own checks let through
   * (observer.ts: methods must never throw, so it is swallowed and counted here).
   */
  #drop(reason: DropReason): undefined {
    try {
      this.#dropped.inc({ reason });
    } catch {
      // Nothing left to report to.
    }
    return undefined;
  }

  #invalid(method: ObserverMethod): void {
    this.#invalidSamples.inc({ method });
  }

  /** A label value as a string, or undefined when it cannot be one. */
  #labelValue(value: unknown): string | undefined {
    if (typeof value === 'string') {
      return value.length <= this.#maxLabelValueLength ? value : undefined;
    }
    // JavaScript callers pass status codes as numbers; accept those.
    if (typeof value === 'number' && Number.isInteger(value)) return String(value);
    return undefined;
  }

  #protocolLabels(protocol: string): ProtocolSeries | undefined {
    const cached = this.#protocolSeries.get(protocol);
    if (cached !== undefined) return cached;
    const value = this.#labelValue(protocol);
    if (value === undefined) return this.#drop('invalid_label_value');
    let labels = this.#protocols.get(value);
    if (labels === undefined) {
      labels = Object.freeze({ protocol: value });
      if (!this.#protocols.add(value, labels)) return this.#drop('series_limit');
    }
    let series = this.#protocolSeriesByLabels.get(labels);
    if (series === undefined) {
      series = {
        labels,
        opened: this.#opened.series(labels),
        received: this.#bytesReceived.series(labels),
        sent: this.#bytesSent.series(labels),
      };
      this.#protocolSeriesByLabels.set(labels, series);
    }
    // Keyed by the value as reported; a number and its string share one series.
    this.#protocolSeries.set(protocol, series);
    return series;
  }

  #tupleLabels(
    table: LabelTable,
    names: readonly string[],
    raw: readonly unknown[],
  ): Labels | undefined {
    const values: string[] = [];
    for (const item of raw) {
      const value = this.#labelValue(item);
      if (value === undefined) return this.#drop('invalid_label_value');
      values.push(value);
    }
    const key = labelKey(values);
    const known = table.get(key);
    if (known !== undefined) return known;
    const labels: Record<string, string> = {};
    names.forEach((name, i) => {
      labels[name] = values[i] as string;
    });
    Object.freeze(labels);
    if (!table.add(key, labels)) return this.#drop('series_limit');
    return labels;
  }

  #connectionOpened(protocol: string): void {
    const series = this.#protocolLabels(protocol);
    if (series === undefined) return;
    const labels = series.labels;
    series.opened.pending += 1;
    const open = (this.#openCounts.get(labels.protocol as string) ?? 0) + 1;
    this.#openCounts.set(labels.protocol as string, open);
    this.#open.set(labels, open);
  }

  #connectionClosed(protocol: string, durationSeconds: number): void {
    const series = this.#protocolLabels(protocol);
    if (series === undefined) return;
    const labels = series.labels;
    // A close without a matching open is a caller bug; the gauge stays at zero.
    const open = Math.max(0, (this.#openCounts.get(labels.protocol as string) ?? 0) - 1);
    this.#openCounts.set(labels.protocol as string, open);
    this.#open.set(labels, open);
    if (isNonNegative(durationSeconds)) {
      this.#connectionDuration.observe(labels, durationSeconds);
    } else {
      this.#invalid('connectionClosed');
    }
  }

  #bytes(method: 'bytesReceived' | 'bytesSent', protocol: string, count: number): void {
    if (!isNonNegative(count)) return this.#invalid(method);
    const series = this.#protocolLabels(protocol);
    if (series === undefined) return;
    if (method === 'bytesReceived') series.received.pending += count;
    else series.sent.pending += count;
  }

  #requestFinished(
    protocol: string,
    method: string,
    outcome: string,
    durationSeconds: number,
  ): void {
    const labels = this.#tupleLabels(
      this.#requestLabels,
      ['protocol', 'method', 'outcome'],
      [protocol, method, outcome],
    );
    if (labels === undefined) return;
    const count = this.#requestCount(labels);
    count.pending += 1;
    if (!isNonNegative(durationSeconds)) return this.#invalid('requestFinished');
    const latencyLabels = this.#tupleLabels(
      this.#latencyLabels,
      ['protocol', 'method'],
      [protocol, method],
    );
    if (latencyLabels === undefined) return;
    let latency = this.#latencySeries.get(latencyLabels);
    if (latency === undefined) {
      latency = this.#requestDuration.series(latencyLabels);
      this.#latencySeries.set(latencyLabels, latency);
    }
    observeSeries(latency, durationSeconds);
    // Both label sets were accepted: later reports of this tuple take the fast path.
    let byMethod = this.#requestSeries.get(protocol);
    if (byMethod === undefined) this.#requestSeries.set(protocol, (byMethod = new Map()));
    let byOutcome = byMethod.get(method);
    if (byOutcome === undefined) byMethod.set(method, (byOutcome = new Map()));
    byOutcome.set(outcome, { count, latency });
  }

  /** The pending requests_total series for accepted labels (one per label set). */
  #requestCount(labels: Labels): PendingSeries {
    let series = this.#requestCounts.get(labels);
    if (series === undefined) {
      series = this.#requests.series(labels);
      this.#requestCounts.set(labels, series);
    }
    return series;
  }

  #error(protocol: string, code: string): void {
    const labels = this.#tupleLabels(this.#errorLabels, ['protocol', 'code'], [protocol, code]);
    if (labels === undefined) return;
    this.#errors.inc(labels);
  }

  #gauge(name: string, value: number, labels: Readonly<Record<string, string>> | undefined): void {
    if (!isValidMetricName(name) || hasReservedGaugeSuffix(name)) return this.#drop('invalid_name');
    if (typeof value !== 'number' || !Number.isFinite(value)) return this.#invalid('gauge');
    const given = labels ?? {};
    if (typeof given !== 'object' || given === null) return this.#drop('invalid_label_name');
    const labelNames = Object.keys(given).sort();
    if (labelNames.length > MAX_GAUGE_LABELS || !labelNames.every((l) => isValidLabelName(l))) {
      return this.#drop('invalid_label_name');
    }
    const values: string[] = [];
    for (const labelName of labelNames) {
      const v = this.#labelValue(given[labelName]);
      if (v === undefined) return this.#drop('invalid_label_value');
      values.push(v);
    }

    let entry = this.#gauges.get(name);
    if (entry === undefined) {
      if (this.#gaugeSeries >= this.#maxGaugeSeries) return this.#drop('series_limit');
      const fullName = this.#prefix + name;
      if (this.#registry.getSingleMetric(fullName) !== undefined) {
        return this.#drop('name_conflict');
      }
      entry = {
        gauge: new Gauge({
          name: fullName,
          help: `Gauge ${name} reported through Observer.gauge.`,
          labelNames,
          registers: [this.#registry],
        }),
        labelNames,
        series: new Map(),
      };
      this.#gauges.set(name, entry);
    } else if (!sameNames(entry.labelNames, labelNames)) {
      return this.#drop('label_names_mismatch');
    }

    const key = labelKey(values);
    let series = entry.series.get(key);
    if (series === undefined) {
      if (this.#gaugeSeries >= this.#maxGaugeSeries) return this.#drop('series_limit');
      const fresh: Record<string, string> = {};
      labelNames.forEach((labelName, i) => {
        fresh[labelName] = values[i] as string;
      });
      series = Object.freeze(fresh);
      entry.series.set(key, series);
      this.#gaugeSeries += 1;
    }
    entry.gauge.set(series, value);
  }
}

function isNonNegative(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}

function limitOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > MAX_LIMIT) {
    throw new InvalidOptionError(
      `Invalid ${name} ${String(value)}: use an integer from 1 to ${MAX_LIMIT} (default ${fallback})`,
    );
  }
  return value;
}

function bucketsOption(name: string, buckets: readonly number[]): number[] {
  const problem = bucketProblem(buckets, MAX_BUCKETS);
  if (problem !== undefined) {
    throw new InvalidOptionError(`Invalid ${name}: the bucket upper bounds ${problem}`);
  }
  return [...buckets];
}

/** Reserved for the built-in metrics, so a default label cannot shadow one of theirs. */
const BUILT_IN_LABELS: ReadonlySet<string> = new Set([
  'protocol',
  'method',
  'outcome',
  'code',
  'reason',
]);

function validateDefaultLabels(labels: Readonly<Record<string, string>>): Labels {
  if (typeof labels !== 'object' || labels === null) {
    throw new InvalidOptionError(
      'Invalid defaultLabels: use an object of label name to string value',
    );
  }
  const copy: Record<string, string> = {};
  for (const [name, value] of Object.entries(labels)) {
    if (!isValidLabelName(name) || BUILT_IN_LABELS.has(name)) {
      throw new InvalidOptionError(
        `Invalid default label name ${JSON.stringify(name)}: use letters, digits and underscores, not starting with a digit or '__', and not one of le, quantile, ${[...BUILT_IN_LABELS].join(', ')}`,
      );
    }
    if (typeof value !== 'string') {
      throw new InvalidOptionError(`Invalid default label ${name}: its value must be a string`);
    }
    copy[name] = value;
  }
  return Object.freeze(copy);
}
