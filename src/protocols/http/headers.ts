/**
 * An ordered, case-insensitive header list, shared by every HTTP engine.
 *
 * Repeated fields are kept in arrival order (RFC 9110 §5.3) and names keep their original
 * case for HTTP/1.1 output (HTTP/2 and HTTP/3 lowercase them). Lookups are linear: header
 * lists are short (the engines cap them), and a scan beats hashing every name on the hot
 * path.
 */
import { InvalidHeaderError } from './errors.js';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 9110 §5.5: field values are VCHAR / obs-text / SP / HTAB; CR, LF and NUL never.
// Characters above U+00FF are refused too: written as latin1 they would wrap to any byte,
// CR and LF included (header injection).
// eslint-disable-next-line no-control-regex -- matching control bytes is the point
const INVALID_VALUE = /[\0-\x08\x0a-\x1f\x7f]|[^\0-\xff]/;

export type HeaderInit =
  | HeaderList
  | Iterable<readonly [string, string]>
  | Readonly<Record<string, string | number | readonly string[]>>;

export class HeaderList implements Iterable<[string, string]> {
  #names: string[];
  #lower: string[];
  #values: string[];
  #readonly = false;
  /** Arrays handed over by `fromTrusted` for the next construction (avoids 3 throwaway arrays). */
  static #adopt: [string[], string[], string[]] | undefined;

  constructor(init?: HeaderInit) {
    const adopt = HeaderList.#adopt;
    if (adopt !== undefined) {
      HeaderList.#adopt = undefined;
      [this.#names, this.#lower, this.#values] = adopt;
      return;
    }
    this.#names = [];
    this.#lower = [];
    this.#values = [];
    if (init !== undefined) this.appendAll(init);
  }

  /**
   * Builds a list from already-validated wire data without checking it again (the engines'
   * parsers validated every byte). `lowerNames` must be the lowercase forms of `names`.
   */
  static fromTrusted(names: string[], lowerNames: string[], values: string[]): HeaderList {
    // The list takes ownership of the arrays (no copy: this runs once per request).
    HeaderList.#adopt = [names, lowerNames, values];
    return new HeaderList();
  }

  /**
   * Sets a field the caller computed itself (a Content-Length, a fixed media type) without
   * validating it again. `lowerName` must be a lowercase token and `value` a valid field
   * value; use `set` for anything that came from outside.
   */
  static setTrusted(list: HeaderList, lowerName: string, value: string): void {
    list.#checkWritable();
    const lower = list.#lower;
    for (let i = 0; i < lower.length; i++) {
      if (lower[i] === lowerName) {
        list.#values[i] = value;
        list.#names[i] = lowerName;
        // Drop any later duplicates so the field appears once.
        for (let j = lower.length - 1; j > i; j--) {
          if (lower[j] === lowerName) {
            list.#names.splice(j, 1);
            lower.splice(j, 1);
            list.#values.splice(j, 1);
          }
        }
        return;
      }
    }
    list.#names.push(lowerName);
    lower.push(lowerName);
    list.#values.push(value);
  }

  get size(): number {
    return this.#names.length;
  }

  get readonly(): boolean {
    return this.#readonly;
  }

  /** Makes the list immutable (request headers are handed to handlers this way). */
  freeze(): this {
    this.#readonly = true;
    return this;
  }

  /** The value of `name`; repeated fields are joined with ", " (RFC 9110 §5.3). */
  get(name: string): string | undefined {
    const lower = name.toLowerCase();
    let result: string | undefined;
    for (let i = 0; i < this.#lower.length; i++) {
      if (this.#lower[i] === lower) {
        result = result === undefined ? this.#values[i] : `${result}, ${this.#values[i]}`;
      }
    }
    return result;
  }

  /** Every value of `name`, in order (use this for Set-Cookie, which cannot be joined). */
  getAll(name: string): string[] {
    const lower = name.toLowerCase();
    const out: string[] = [];
    for (let i = 0; i < this.#lower.length; i++) {
      if (this.#lower[i] === lower) out.push(this.#values[i]!);
    }
    return out;
  }

  has(name: string): boolean {
    return this.#lower.includes(name.toLowerCase());
  }

  /** Replaces every field named `name` with one field. */
  set(name: string, value: string | number): this {
    this.#checkWritable();
    const text = String(value);
    validate(name, text);
    this.#remove(name.toLowerCase());
    this.#push(name, text);
    return this;
  }

  append(name: string, value: string | number): this {
    this.#checkWritable();
    const text = String(value);
    validate(name, text);
    this.#push(name, text);
    return this;
  }

  appendAll(init: HeaderInit): this {
    if (init instanceof HeaderList) {
      // Snapshot first: appending a list to itself must not loop forever.
      for (const [name, value] of [...init]) this.append(name, value);
    } else if (Symbol.iterator in init) {
      for (const [name, value] of init as Iterable<readonly [string, string]>) {
        this.append(name, value);
      }
    } else {
      for (const [name, value] of Object.entries(init)) {
        if (Array.isArray(value)) for (const v of value as readonly string[]) this.append(name, v);
        else this.append(name, value as string | number);
      }
    }
    return this;
  }

  delete(name: string): boolean {
    this.#checkWritable();
    return this.#remove(name.toLowerCase());
  }

  /** Removes every field. */
  clear(): void {
    this.#checkWritable();
    this.#names.length = 0;
    this.#lower.length = 0;
    this.#values.length = 0;
  }

  /** Fields as `[name, value]` in order, names in their original case. */
  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (let i = 0; i < this.#names.length; i++) yield [this.#names[i]!, this.#values[i]!];
  }

  entries(): IterableIterator<[string, string]> {
    return this[Symbol.iterator]();
  }

  /** Name at index `i` in original case (engines iterate without allocating pairs). */
  nameAt(i: number): string {
    return this.#names[i]!;
  }

  lowerNameAt(i: number): string {
    return this.#lower[i]!;
  }

  valueAt(i: number): string {
    return this.#values[i]!;
  }

  /** A plain object with lowercase names; repeated fields joined (Set-Cookie as an array). */
  toJSON(): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {};
    for (const lower of new Set(this.#lower)) {
      out[lower] = lower === 'set-cookie' ? this.getAll(lower) : this.get(lower)!;
    }
    return out;
  }

  clone(): HeaderList {
    return HeaderList.fromTrusted([...this.#names], [...this.#lower], [...this.#values]);
  }

  #push(name: string, value: string): void {
    this.#names.push(name);
    this.#lower.push(name.toLowerCase());
    this.#values.push(value);
  }

  #remove(lower: string): boolean {
    let removed = false;
    for (let i = this.#lower.length - 1; i >= 0; i--) {
      if (this.#lower[i] === lower) {
        this.#names.splice(i, 1);
        this.#lower.splice(i, 1);
        this.#values.splice(i, 1);
        removed = true;
      }
    }
    return removed;
  }

  #checkWritable(): void {
    if (this.#readonly) throw new InvalidHeaderError('These headers are read-only');
  }
}

function validate(name: string, value: string): void {
  if (!TOKEN.test(name)) {
    throw new InvalidHeaderError(`Invalid header name ${JSON.stringify(name)}: must be a token`);
  }
  if (INVALID_VALUE.test(value)) {
    throw new InvalidHeaderError(
      `Invalid value for header "${name}": CR, LF, NUL and other control bytes are not allowed`,
    );
  }
}
