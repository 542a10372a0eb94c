/**
 * A concurrency limiter for zlib work shared across connections.
 *
 * Node runs asynchronous zlib operations on the libuv thread pool (4 threads by default);
 * thousands of connections compressing at once would queue thousands of jobs there, each
 * holding its input, output and a zlib context, and starve DNS and fs work sharing the pool.
 * The limiter caps how many PerMessageDeflate operations run at once and queues the rest in
 * FIFO order (so one connection's messages keep their order).
 */
import { ProtocolError } from '../../errors.js';
import { InvalidOptionError } from '../../errors.js';

export interface ZlibLimiterOptions {
  /**
   * Most zlib operations running at once.
   * @default 10
   */
  concurrency?: number;
  /**
   * Most operations waiting for a slot; beyond it `run` rejects with a 1013 (Try Again
   * Later) error instead of queueing without bound (STYLE §4).
   * @default 100000
   */
  maxPending?: number;
}

/** The limiter's queue is full. `wireCode` 1013: Try Again Later (RFC 6455 §7.4.1 registry). */
export class ZlibQueueFullError extends ProtocolError {
  constructor(maxPending: number) {
    super(
      'GN_ERR_WS_ZLIB_QUEUE_FULL',
      `More than ${maxPending} zlib operations are waiting; refusing to queue more`,
      1013,
      'library',
    );
  }
}

export class ZlibLimiter {
  readonly concurrency: number;
  readonly maxPending: number;
  #active = 0;
  #queue: Array<() => void> = [];
  #head = 0;

  constructor(options: ZlibLimiterOptions = {}) {
    const concurrency = options.concurrency ?? 10;
    const maxPending = options.maxPending ?? 100_000;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new InvalidOptionError(
        `Invalid ZlibLimiter concurrency ${concurrency}: use a positive integer (e.g. 10)`,
      );
    }
    if (!Number.isInteger(maxPending) || maxPending < 0) {
      throw new InvalidOptionError(
        `Invalid ZlibLimiter maxPending ${maxPending}: use a non-negative integer`,
      );
    }
    this.concurrency = concurrency;
    this.maxPending = maxPending;
  }

  /** Operations running now. */
  get active(): number {
    return this.#active;
  }

  /** Operations waiting for a slot. */
  get pending(): number {
    return this.#queue.length - this.#head;
  }

  /** Runs `job` when a slot is free; the slot is released when its promise settles. */
  run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#active < this.concurrency) return this.#start(job);
    if (this.pending >= this.maxPending)
      return Promise.reject(new ZlibQueueFullError(this.maxPending));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push(() => {
        this.#start(job).then(resolve, reject);
      });
    });
  }

  #start<T>(job: () => Promise<T>): Promise<T> {
    this.#active++;
    let p: Promise<T>;
    try {
      p = job();
    } catch (err) {
      p = Promise.reject(err);
    }
    return p.finally(() => {
      this.#active--;
      this.#next();
    });
  }

  #next(): void {
    if (this.#head >= this.#queue.length) return;
    const start = this.#queue[this.#head]!;
    this.#queue[this.#head] = undefined as unknown as () => void;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    } else if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    }
    start();
  }
}

/**
 * Intentionally global: the limiter exists to bound zlib work across every connection in the
 * process (the libuv thread pool it protects is process-wide too), as ws's `zlibLimiter`
 * does. PerMessageDeflate uses it unless a limiter is injected (tests inject their own).
 */
export const defaultZlibLimiter = new ZlibLimiter();
