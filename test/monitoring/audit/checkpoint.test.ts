import { describe, expect, it } from 'vitest';

import {
  formatCheckpoint,
  parseCheckpoint,
  signCheckpoint,
  verifyCheckpoint,
  type Checkpoint,
} from '../../../src/monitoring/audit/checkpoint.js';
import { signNote } from '../../../src/monitoring/audit/signed-note.js';
import {
  generateSigningKey,
  verifierKeyString,
} from '../../../src/monitoring/audit/signing-key.js';

const key = generateSigningKey('audit.example/log');
const verifierKey = verifierKeyString(key);
const rootHash = Uint8Array.from({ length: 32 }, (_, index) => index);

function sampleCheckpoint(): Checkpoint {
  return {
    origin: 'audit.example/log',
    treeSize: 20852163,
    rootHash,
    time: '2026-12-04T15:41:36.123Z',
    extensions: [],
  };
}

describe('formatCheckpoint', () => {
  it('writes origin, size, base64 root and time lines', () => {
    expect(formatCheckpoint(sampleCheckpoint())).toBe(
      'audit.example/log\n20852163\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n' +
        'time 2026-12-04T15:41:36.123Z\n',
    );
  });

  it('writes only three lines without time or extensions', () => {
    const body = formatCheckpoint({ ...sampleCheckpoint(), treeSize: 0, time: null });
    expect(body).toBe('audit.example/log\n0\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n');
  });

  it('writes extension lines after the time line', () => {
    const body = formatCheckpoint({ ...sampleCheckpoint(), extensions: ['note one', 'two'] });
    expect(body.endsWith('time 2026-12-04T15:41:36.123Z\nnote one\ntwo\n')).toBe(true);
  });

  const invalidCases: [string, Partial<Checkpoint>][] = [
    ['empty origin', { origin: '' }],
    ['origin with space', { origin: 'audit log' }],
    ['origin with newline', { origin: 'audit\nlog' }],
    ['negative size', { treeSize: -1 }],
    ['fractional size', { treeSize: 1.5 }],
    ['unsafe size', { treeSize: 2 ** 53 }],
    ['short root', { rootHash: new Uint8Array(31) }],
    ['time without milliseconds', { time: '2026-12-04T15:41:36Z' }],
    ['empty extension', { extensions: [''] }],
    ['extension with newline', { extensions: ['a\nb'] }],
    ['time-like first extension without time', { time: null, extensions: ['time 1'] }],
  ];

  it.each(invalidCases)('rejects %s', (_name, change) => {
    expect(() => formatCheckpoint({ ...sampleCheckpoint(), ...change })).toThrow(RangeError);
  });
});

describe('parseCheckpoint', () => {
  it('round-trips a formatted checkpoint', () => {
    const checkpoint = { ...sampleCheckpoint(), extensions: ['x-extra 1'] };
    const parsed = parseCheckpoint(formatCheckpoint(checkpoint));
    expect(parsed).toEqual({ ok: true, checkpoint });
  });

  it('reads a checkpoint without time', () => {
    const parsed = parseCheckpoint(formatCheckpoint({ ...sampleCheckpoint(), time: null }));
    expect(parsed).toMatchObject({ ok: true, checkpoint: { time: null } });
  });

  const root = Buffer.from(rootHash).toString('base64');
  const malformedCases: [string, string][] = [
    ['two lines', `o\n5\n`],
    ['no final newline', `o\n5\n${root}`],
    ['empty origin', `\n5\n${root}\n`],
    ['leading zero size', `o\n05\n${root}\n`],
    ['signed size', `o\n+5\n${root}\n`],
    ['hex size', `o\n0x5\n${root}\n`],
    ['size above 2^53 - 1', `o\n9007199254740992\n${root}\n`],
    ['root of 31 bytes', `o\n5\n${Buffer.alloc(31).toString('base64')}\n`],
    ['unpadded root', `o\n5\n${root.replace(/=$/, '')}\n`],
    ['empty extension line', `o\n5\n${root}\n\n`],
    ['invalid time', `o\n5\n${root}\ntime yesterday\n`],
    ['control character', `o\n5\n${root}\nx\u0007\n`],
  ];

  it.each(malformedCases)('reports malformed for %s', (_name, text) => {
    expect(parseCheckpoint(text)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('accepts the largest safe tree size', () => {
    const parsed = parseCheckpoint(`o\n9007199254740991\n${root}\n`);
    expect(parsed).toMatchObject({ ok: true, checkpoint: { treeSize: Number.MAX_SAFE_INTEGER } });
  });
});

describe('signCheckpoint and verifyCheckpoint', () => {
  const body = formatCheckpoint(sampleCheckpoint());
  const signed = signCheckpoint(body, key);

  it('verifies and returns the parsed checkpoint', () => {
    expect(verifyCheckpoint(signed, verifierKey)).toEqual({
      ok: true,
      checkpoint: sampleCheckpoint(),
    });
  });

  it('accepts the verifier key as an object', () => {
    expect(verifyCheckpoint(signed, key).ok).toBe(true);
  });

  it('reports bad_signature for a changed tree size', () => {
    const forged = signed.replace('\n20852163\n', '\n20852164\n');
    expect(verifyCheckpoint(forged, verifierKey)).toMatchObject({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('reports bad_signature for a changed root', () => {
    const otherRoot = Buffer.from(rootHash.map((byte) => byte ^ 0xff)).toString('base64');
    const forged = signed.replace(Buffer.from(rootHash).toString('base64'), otherRoot);
    expect(verifyCheckpoint(forged, verifierKey)).toMatchObject({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('reports unknown_key for a checkpoint signed by another key', () => {
    const otherKey = generateSigningKey('audit.example/log');
    expect(verifyCheckpoint(signCheckpoint(body, otherKey), verifierKey)).toMatchObject({
      ok: false,
      reason: 'unknown_key',
    });
  });

  it('reports malformed for a broken note', () => {
    expect(verifyCheckpoint(body, verifierKey)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(verifyCheckpoint('', verifierKey)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('reports malformed for a signed note that is not a checkpoint', () => {
    const note = signNote('just text\n', key);
    expect(verifyCheckpoint(note, verifierKey)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('reports origin_mismatch when the origin is not the key name', () => {
    const note = signNote(formatCheckpoint({ ...sampleCheckpoint(), origin: 'other.log' }), key);
    expect(verifyCheckpoint(note, verifierKey)).toMatchObject({
      ok: false,
      reason: 'origin_mismatch',
    });
  });

  it('reports invalid_verifier_key for a bad key string', () => {
    expect(verifyCheckpoint(signed, 'not a key')).toMatchObject({
      ok: false,
      reason: 'invalid_verifier_key',
    });
  });

  it('signCheckpoint rejects a body with another origin or an invalid body', () => {
    const otherOrigin = formatCheckpoint({ ...sampleCheckpoint(), origin: 'other.log' });
    expect(() => signCheckpoint(otherOrigin, key)).toThrow(/differs from signing key name/);
    expect(() => signCheckpoint('not a checkpoint\n', key)).toThrow(RangeError);
  });

  it('never throws for arbitrary input', () => {
    const inputs = [
      '\u2014',
      '\n\n\n',
      `${body}\n\u2014 \n`,
      `${body}\n\u2014 audit.example/log \n`,
      `${body}\n\u2014 audit.example/log ====\n`,
      signed.repeat(3),
      'x'.repeat(2_000_000),
    ];
    for (const input of inputs) {
      expect(() => verifyCheckpoint(input, verifierKey)).not.toThrow();
      expect(verifyCheckpoint(input, verifierKey).ok).toBe(false);
    }
  });
});
