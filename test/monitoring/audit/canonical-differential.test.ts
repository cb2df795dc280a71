import canonicalizeExport from 'canonicalize';
import { describe, expect, it } from 'vitest';

import {
  AuditEncodingError,
  encodeEntry,
  type AuditEntryFields,
  type JsonValue,
} from '../../../src/monitoring/audit/canonical-encoding.js';

// The package is CommonJS and sets module.exports to the function, but its type declarations
// describe an ES default export, so NodeNext types the default import as the module namespace.
const canonicalize = canonicalizeExport as unknown as (input: unknown) => string | undefined;

function entryWith(newValues: JsonValue | null): AuditEntryFields {
  return {
    seq: '7',
    logId: 'mindweave.example/audit',
    timestamp: '2026-12-04T15:41:36.123456Z',
    actorType: 'user',
    actorId: 'user-1',
    actorEmail: null,
    actorIp: null,
    actorUserAgent: null,
    orgId: 'org-1',
    projectId: null,
    requestId: 'req-1',
    sessionId: null,
    action: 'project.update',
    resourceType: 'project',
    resourceId: 'proj-1',
    oldValues: null,
    newValues,
    metadata: null,
    sensitivity: 'normal',
    complianceRelevant: false,
    previousHash: 'cd'.repeat(32),
  };
}

/** Serializes the whole entry with the canonicalize package, which the previous encoder matched. */
function referenceText(fields: AuditEntryFields): string {
  const text = canonicalize(fields);
  if (text === undefined) throw new Error('canonicalize returned undefined');
  return text;
}

function encodedText(fields: AuditEntryFields): string {
  return new TextDecoder().decode(encodeEntry(fields));
}

/** Deterministic generator (mulberry32), so a failing case can be replayed by its seed. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.1,
  1e21,
  1e20,
  1e-7,
  1e-6,
  5e-324,
  -5e-324,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  2 ** 64,
  123456789012345680000,
  0.000001234,
  333333333.3333333,
  -1.5e300,
];

// Keys and strings whose order or escaping differs between naive sorts and UTF-16 order.
const STRINGS = [
  '',
  'z',
  'Z',
  '\u00e9',
  '\ud83d\ude00',
  '\uffff',
  '\ue000',
  '\u0000',
  '\u001f',
  '\u007f',
  '\u2028',
  '\u2029',
  '"',
  '\\',
  '/',
  '__proto__',
  'constructor',
  'toJSON',
  '10',
  '2',
  '-1',
  '1.5',
  'a\nb',
  '\t',
];

function randomJson(random: () => number, depth: number): JsonValue {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const choice = depth > 4 ? Math.floor(random() * 4) : Math.floor(random() * 6);
  if (choice === 0) return pick(NUMBERS);
  if (choice === 1) return pick(STRINGS) + pick(STRINGS);
  if (choice === 2) return pick([null, true, false]);
  if (choice === 3) return (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20);
  if (choice === 4) {
    return Array.from({ length: Math.floor(random() * 4) }, () => randomJson(random, depth + 1));
  }
  const object: Record<string, JsonValue> = {};
  const count = Math.floor(random() * 5);
  for (let index = 0; index < count; index += 1) {
    // defineProperty so a `__proto__` key becomes an own member, as JSON.parse makes it.
    Object.defineProperty(object, pick(STRINGS) + pick(STRINGS), {
      value: randomJson(random, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return object;
}

/** Builds an array of length 3 without an element at index 1, like `[1, , 3]`. */
function sparseArray(): number[] {
  const array = [1];
  array[2] = 3;
  return array;
}

describe('encodeEntry against the canonicalize package', () => {
  it.each(NUMBERS.map((value) => [value]))('encodes the number %s', (value) => {
    const fields = entryWith({ value, list: [value] });
    expect(encodedText(fields)).toBe(referenceText(fields));
  });

  it('sorts keys by UTF-16 code units', () => {
    const value: Record<string, JsonValue> = {};
    for (const key of STRINGS) value[key] = key;
    const fields = entryWith(value);
    const text = encodedText(fields);
    expect(text).toBe(referenceText(fields));
    // U+00E9 sorts after "z", and the surrogate pair of U+1F600 before U+E000 and U+FFFF.
    expect(text.indexOf('"z"')).toBeLessThan(text.indexOf('"\u00e9"'));
    expect(text.indexOf('"\ud83d\ude00"')).toBeLessThan(text.indexOf('"\ue000"'));
  });

  it('keeps an own __proto__ member and an empty key', () => {
    const value = JSON.parse('{"__proto__":{"admin":true},"":1,"a":[{"__proto__":null}]}') as {
      [key: string]: JsonValue;
    };
    const fields = entryWith(value);
    const text = encodedText(fields);
    expect(text).toBe(referenceText(fields));
    expect(text).toContain(
      '"newValues":{"":1,"__proto__":{"admin":true},"a":[{"__proto__":null}]}',
    );
  });

  it('matches on null-prototype objects', () => {
    const value = Object.create(null) as Record<string, JsonValue>;
    value.b = 1;
    value.a = { c: 'x' };
    const fields = entryWith(value);
    expect(encodedText(fields)).toBe(referenceText(fields));
  });

  it('matches on 2,000 generated values', () => {
    for (let seed = 1; seed <= 2000; seed += 1) {
      const random = randomSource(seed);
      const fields = entryWith(randomJson(random, 0));
      fields.oldValues = randomJson(random, 0);
      fields.metadata = randomJson(random, 0);
      const encoded = encodedText(fields);
      const reference = referenceText(fields);
      if (encoded !== reference) expect({ seed, encoded }).toEqual({ seed, encoded: reference });
    }
  });

  it('accepts nesting of 64 levels and rejects 65', () => {
    let accepted: JsonValue = 1;
    for (let level = 0; level < 64; level += 1) accepted = [accepted];
    const fields = entryWith(accepted);
    expect(encodedText(fields)).toBe(referenceText(fields));
    expect(() => encodeEntry(entryWith([accepted]))).toThrow(AuditEncodingError);
    expect(() => encodeEntry(entryWith({ a: accepted }))).toThrow(/nested deeper than 64/);
  });

  it.each([
    ['a lone high surrogate in a value', { a: 'x\ud83d' }],
    ['a lone low surrogate in a value', { a: ['\ude00y'] }],
    ['a lone surrogate in a key', { ['\ud800']: 1 }],
    ['a reversed surrogate pair', { a: '\ude00\ud83d' }],
  ])('rejects %s', (_label, value) => {
    expect(() => encodeEntry(entryWith(value))).toThrow(/unpaired UTF-16 surrogate/);
  });

  it.each([
    ['a hole in an array', { a: sparseArray() }, /newValues\.a\[1\] is a missing element/],
    ['NaN', { a: Number.NaN }, /newValues\.a is not a finite number/],
    ['-Infinity', { a: [-Infinity] }, /newValues\.a\[0\] is not a finite number/],
    ['undefined', { a: undefined }, /newValues\.a is not a JSON value/],
    ['a Date', { a: new Date(0) }, /newValues\.a is not a JSON value/],
    ['a bigint', { a: 1n }, /newValues\.a is not a JSON value/],
  ])('rejects %s with its path', (_label, value, message) => {
    expect(() => encodeEntry(entryWith(value as unknown as JsonValue))).toThrow(message);
  });
});
