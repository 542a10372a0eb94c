import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../src/errors.js';
import { Rng } from '../../../src/p2p/sim/rng.js';

function draws(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.nextUint32());
}

describe('Rng', () => {
  it('is xoshiro128** (reference outputs for state 1, 2, 3, 4)', () => {
    // From the reference C implementation, prng.di.unimi.it/xoshiro128starstar.c.
    const rng = Rng.fromState([1, 2, 3, 4]);
    expect(draws(rng, 6)).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
    const resumed = Rng.fromState(rng.state());
    expect(draws(resumed, 3)).toEqual(draws(rng, 3));
    expect(() => Rng.fromState([0, 0, 0, 0])).toThrow(InvalidOptionError);
  });

  it('the same seed gives the same stream; different seeds differ', () => {
    expect(draws(new Rng(7), 100)).toEqual(draws(new Rng(7), 100));
    expect(draws(new Rng('abc'), 100)).toEqual(draws(new Rng('abc'), 100));
    expect(draws(new Rng(7), 10)).not.toEqual(draws(new Rng(8), 10));
    expect(draws(new Rng(2 ** 40), 10)).not.toEqual(draws(new Rng(0), 10));
    expect(draws(new Rng('7'), 10)).not.toEqual(draws(new Rng(7), 10));
    expect(() => new Rng(1.5)).toThrow(InvalidOptionError);
  });

  it('next, int, uniform stay in range and look uniform', () => {
    const rng = new Rng(1);
    const buckets = new Array<number>(10).fill(0);
    let outOfRange = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = rng.next();
      if (!(x >= 0 && x < 1)) outOfRange++;
      else buckets[Math.floor(x * 10)]!++;
    }
    expect(outOfRange).toBe(0);
    for (const b of buckets) expect(Math.abs(b - 10_000)).toBeLessThan(600);
    const counts = new Array<number>(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[rng.int(7)]!++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(600);
    for (let i = 0; i < 1000; i++) {
      const big = rng.int(2 ** 40);
      expect(Number.isInteger(big) && big >= 0 && big < 2 ** 40).toBe(true);
      const u = rng.uniform(-3, 3);
      expect(u >= -3 && u < 3).toBe(true);
      const d = rng.nextDouble();
      expect(d >= 0 && d < 1).toBe(true);
    }
    expect(rng.int(1)).toBe(0);
    expect(() => rng.int(0)).toThrow(InvalidOptionError);
    expect(() => rng.int(2.5)).toThrow(InvalidOptionError);
  });

  it('bytes works as an injected RandomBytes', () => {
    const a = new Rng(3);
    const b = new Rng(3);
    const randomBytes: (n: number) => Uint8Array = a.randomBytes;
    const x = randomBytes(20);
    expect(x).toBeInstanceOf(Uint8Array);
    expect(x.length).toBe(20);
    expect(x).toEqual(b.bytes(20));
    expect(a.bytes(0).length).toBe(0);
    expect(a.bytes(3)).toEqual(b.bytes(3));
    expect(() => a.bytes(-1)).toThrow(InvalidOptionError);
  });

  it('pick, shuffle', () => {
    const rng = new Rng(5);
    const items = ['a', 'b', 'c'];
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) seen.add(rng.pick(items));
    expect([...seen].sort()).toEqual(items);
    expect(() => rng.pick([])).toThrow(InvalidOptionError);
    const deck = Array.from({ length: 50 }, (_, i) => i);
    const shuffled = rng.shuffle([...deck]);
    expect(shuffled).not.toEqual(deck);
    expect([...shuffled].sort((p, q) => p - q)).toEqual(deck);
  });

  it('exponential, normal and logNormal have the right moments', () => {
    const rng = new Rng(11);
    const n = 50_000;
    let sumE = 0;
    let sumN = 0;
    let sumN2 = 0;
    const logs: number[] = [];
    for (let i = 0; i < n; i++) {
      const e = rng.exponential(20);
      if (e < 0) throw new Error(`negative exponential ${e}`);
      sumE += e;
      const x = rng.normal(5, 2);
      sumN += x;
      sumN2 += x * x;
      logs.push(rng.logNormal(50, 0.5));
    }
    expect(sumE / n).toBeCloseTo(20, 0);
    const mean = sumN / n;
    expect(mean).toBeCloseTo(5, 1);
    expect(Math.sqrt(sumN2 / n - mean * mean)).toBeCloseTo(2, 1);
    logs.sort((a, b) => a - b);
    expect(Math.abs(logs[n / 2]! - 50)).toBeLessThan(1.5);
  });

  it('child(label) depends only on the seed and label; fork() advances the parent', () => {
    const a = new Rng(9);
    const b = new Rng(9);
    draws(b, 1000); // consuming the parent does not change children
    expect(draws(a.child('node-1'), 5)).toEqual(draws(b.child('node-1'), 5));
    expect(draws(a.child('node-1'), 5)).not.toEqual(draws(a.child('node-2'), 5));
    expect(draws(a.child(1), 5)).not.toEqual(draws(a.child('1'), 5));
    expect(draws(a.child('x'), 5)).not.toEqual(draws(a, 5));
    expect(draws(new Rng(10).child('node-1'), 5)).not.toEqual(draws(a.child('node-1'), 5));
    // Grandchildren are distinct per path.
    expect(draws(a.child('p').child('q'), 5)).not.toEqual(draws(a.child('q').child('p'), 5));

    const c = new Rng(9);
    const d = new Rng(9);
    const f1 = c.fork();
    const f2 = c.fork();
    expect(draws(f1, 5)).not.toEqual(draws(f2, 5));
    expect(draws(d.fork(), 5)).toEqual(draws(new Rng(9).fork(), 5));
    expect(c.nextUint32()).not.toBe(new Rng(9).nextUint32());
  });
});
