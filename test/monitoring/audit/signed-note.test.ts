import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import {
  MAX_NOTE_SIGNATURES,
  parseSignedNote,
  signNote,
  verifyNote,
} from '../../../src/monitoring/audit/signed-note.js';
import {
  formatVerifierKey,
  generateSigningKey,
  noteKeyId,
  parseVerifierKey,
  verifierKeyString,
} from '../../../src/monitoring/audit/signing-key.js';

interface SignedNoteExample {
  verifierKey: string;
  keyName: string;
  keyIdHex: string;
  noteText: string;
  signatureLine: string;
}

// Example from the C2SP signed-note specification, see the folder's SOURCE.txt.
const example = JSON.parse(
  readFileSync(
    fileURLToPath(
      new URL('../../fixtures/vectors/c2sp-signed-note/signed-note-example.json', import.meta.url),
    ),
    'utf8',
  ),
) as SignedNoteExample;
const exampleNote = `${example.noteText}\n${example.signatureLine}\n`;

function lastLine(note: string): string {
  const lines = note.slice(0, -1).split('\n');
  return lines[lines.length - 1] as string;
}

describe('C2SP signed-note example', () => {
  it('verifier key parses with the published key ID', () => {
    const parsed = parseVerifierKey(example.verifierKey);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.key.name).toBe(example.keyName);
    expect(Buffer.from(parsed.key.keyId).toString('hex')).toBe(example.keyIdHex);
  });

  it('key ID and verifier key string are reproduced from the public key', () => {
    const parsed = parseVerifierKey(example.verifierKey);
    if (!parsed.ok) throw new Error(parsed.reason);
    const keyId = noteKeyId(example.keyName, parsed.key.publicKeyRaw);
    expect(Buffer.from(keyId).toString('hex')).toBe(example.keyIdHex);
    expect(formatVerifierKey(example.keyName, parsed.key.publicKeyRaw)).toBe(example.verifierKey);
  });

  it('signature line parses into name, key ID and signature', () => {
    const parsed = parseSignedNote(exampleNote);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.note.text).toBe(example.noteText);
    expect(parsed.note.signatures).toHaveLength(1);
    const [signature] = parsed.note.signatures;
    expect(signature?.keyName).toBe(example.keyName);
    expect(Buffer.from(signature?.keyId ?? []).toString('hex')).toBe(example.keyIdHex);
    expect(signature?.signature).toHaveLength(64);
  });

  it('note verifies with the example verifier key', () => {
    expect(verifyNote(exampleNote, example.verifierKey)).toEqual({
      ok: true,
      text: example.noteText,
    });
  });

  it('altered text fails with bad_signature', () => {
    const altered = exampleNote.replace('example message', 'exemplary message');
    const result = verifyNote(altered, example.verifierKey);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toBe('bad_signature');
  });
});

describe('signNote and verifyNote', () => {
  const key = generateSigningKey('audit.example/log');
  const otherKey = generateSigningKey('audit.example/other');

  it('round-trips text with blank lines inside', () => {
    const text = 'first\n\nthird\n\n';
    const note = signNote(text, key);
    expect(verifyNote(note, verifierKeyString(key))).toEqual({ ok: true, text });
  });

  it('writes the signature line format', () => {
    const line = lastLine(signNote('hello\n', key));
    expect(line.startsWith('\u2014 audit.example/log ')).toBe(true);
    const decoded = Buffer.from(line.split(' ')[2] as string, 'base64');
    expect(decoded).toHaveLength(68);
    expect(decoded.subarray(0, 4).equals(key.keyId)).toBe(true);
  });

  it('accepts a verifier key object', () => {
    const note = signNote('hello\n', key);
    expect(verifyNote(note, key).ok).toBe(true);
  });

  it('reports unknown_key when only other keys signed', () => {
    const result = verifyNote(signNote('hello\n', otherKey), verifierKeyString(key));
    expect(result).toMatchObject({ ok: false, reason: 'unknown_key' });
  });

  it('ignores a signature with the right name but another key ID', () => {
    const impostor = generateSigningKey('audit.example/log');
    const result = verifyNote(signNote('hello\n', impostor), verifierKeyString(key));
    expect(result).toMatchObject({ ok: false, reason: 'unknown_key' });
  });

  it('finds the trusted signature among several', () => {
    const text = 'cosigned\n';
    const note = `${signNote(text, otherKey)}${lastLine(signNote(text, key))}\n`;
    expect(verifyNote(note, verifierKeyString(key))).toEqual({ ok: true, text });
    expect(verifyNote(note, verifierKeyString(otherKey))).toEqual({ ok: true, text });
  });

  it('rejects the note when one trusted signature fails', () => {
    const text = 'hello\n';
    const good = lastLine(signNote(text, key));
    const bad = lastLine(signNote('other\n', key));
    const result = verifyNote(`${text}\n${good}\n${bad}\n`, verifierKeyString(key));
    expect(result).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  it('reports invalid_verifier_key for a bad key string', () => {
    const note = signNote('hello\n', key);
    const result = verifyNote(note, 'audit.example/log+00000000+AAAA');
    expect(result).toMatchObject({ ok: false, reason: 'invalid_verifier_key' });
  });

  it('signNote rejects text without a final newline or with control characters', () => {
    expect(() => signNote('no newline', key)).toThrow(RangeError);
    expect(() => signNote('tab\there\n', key)).toThrow(RangeError);
  });
});

describe('parseSignedNote', () => {
  const key = generateSigningKey('audit.example/log');
  const note = signNote('hello\n', key);
  const signature = lastLine(note).split(' ')[2] as string;

  const malformedCases: [string, string][] = [
    ['empty input', ''],
    ['no blank line', `hello\n\u2014 audit.example/log ${signature}\n`],
    ['no final newline', note.slice(0, -1)],
    ['no signature lines', 'hello\n\n'],
    ['ASCII hyphens for the dash', `hello\n\n-- audit.example/log ${signature}\n`],
    ['missing key name', `hello\n\n\u2014 ${signature}\n`],
    ['extra field', `hello\n\n\u2014 audit.example/log ${signature} extra\n`],
    ['key name with plus', `hello\n\n\u2014 audit+log ${signature}\n`],
    [
      'base64 without padding',
      `hello\n\n\u2014 audit.example/log ${signature.replace(/=+$/, '')}\n`,
    ],
    [
      'base64 with bad characters',
      `hello\n\n\u2014 audit.example/log ${signature.slice(0, -4)}!!!=\n`,
    ],
    ['signature with only a key ID', `hello\n\n\u2014 audit.example/log AAAAAA==\n`],
    ['carriage return', note.replace('hello\n', 'hello\r\n')],
    ['NUL character', note.replace('hello', 'hel\u0000lo')],
    ['unpaired surrogate', note.replace('hello', 'hel\ud800lo')],
  ];

  it.each(malformedCases)('reports malformed for %s', (_name, text) => {
    const result = parseSignedNote(text);
    expect(result).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('splits at the last blank line', () => {
    const line = lastLine(note);
    const parsed = parseSignedNote(`hello\n\n${line}\n\n${line}\n`);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.note.text).toBe(`hello\n\n${line}\n`);
    expect(parsed.note.signatures).toHaveLength(1);
  });

  it('verifyNote reports malformed the same way', () => {
    expect(verifyNote('hello\n', key)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it(`accepts ${MAX_NOTE_SIGNATURES} signatures and rejects one more`, () => {
    const line = lastLine(note);
    const lines = (count: number) => `hello\n\n${`${line}\n`.repeat(count)}`;
    expect(parseSignedNote(lines(MAX_NOTE_SIGNATURES)).ok).toBe(true);
    expect(parseSignedNote(lines(MAX_NOTE_SIGNATURES + 1))).toMatchObject({
      ok: false,
      reason: 'malformed',
    });
  });
});

describe('parseVerifierKey', () => {
  const key = generateSigningKey('audit.example/log');
  const text = verifierKeyString(key);
  const [name, keyIdHex] = text.split('+') as [string, string];
  const encodedKey = text.slice(name.length + keyIdHex.length + 2);

  const invalidCases: [string, string][] = [
    ['one part', name],
    ['two parts', `${name}+${keyIdHex}`],
    ['empty name', `+${keyIdHex}+${encodedKey}`],
    ['name with space', `audit log+${keyIdHex}+${encodedKey}`],
    ['short key ID', `${name}+${keyIdHex.slice(1)}+${encodedKey}`],
    ['wrong key ID', `${name}+00000000+${encodedKey}`],
    ['other name', `audit.example/other+${keyIdHex}+${encodedKey}`],
    [
      'wrong type byte',
      `${name}+${keyIdHex}+${Buffer.concat([Buffer.of(2), key.publicKeyRaw]).toString('base64')}`,
    ],
    ['short key', `${name}+${keyIdHex}+${Buffer.of(1, 2, 3).toString('base64')}`],
  ];

  it.each(invalidCases)('rejects %s', (_name, candidate) => {
    expect(parseVerifierKey(candidate).ok).toBe(false);
  });

  it('accepts an uppercase key ID', () => {
    expect(parseVerifierKey(`${name}+${keyIdHex.toUpperCase()}+${encodedKey}`).ok).toBe(true);
  });
});
