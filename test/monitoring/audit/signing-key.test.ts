import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import nacl from 'tweetnacl';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { formatCheckpoint, signCheckpoint } from '../../../src/monitoring/audit/checkpoint.js';
import { parseSignedNote } from '../../../src/monitoring/audit/signed-note.js';
import {
  SIGNING_KEY_FILE,
  SigningKeyError,
  generateSigningKey,
  loadOrCreateSigningKey,
  noteKeyId,
  parseVerifierKey,
  privateKeyPem,
  publicKeyPem,
  signEd25519,
  signingKeyFromPem,
  verifierKeyString,
  verifyEd25519,
} from '../../../src/monitoring/audit/signing-key.js';

const vectorsDir = fileURLToPath(new URL('../../fixtures/vectors/', import.meta.url));

interface Rfc8032Case {
  name: string;
  secretKeyHex: string;
  publicKeyHex: string;
  messageHex: string;
  signatureHex: string;
}

interface WycheproofEddsaFile {
  numberOfTests: number;
  testGroups: {
    publicKey: { pk: string };
    tests: { tcId: number; msg: string; sig: string; result: 'valid' | 'invalid' }[];
  }[];
}

interface CctvCase {
  number: number;
  key: string;
  sig: string;
  msg: string;
  flags: string[] | null;
}

function loadJson<T>(relativePath: string): T {
  return JSON.parse(readFileSync(path.join(vectorsDir, relativePath), 'utf8')) as T;
}

function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

/** Builds a PKCS#8 PEM from a raw RFC 8032 secret key (the 32-byte seed). */
function pemFromSeed(seedHex: string, publicKeyHex: string): string {
  const privateKey = createPrivateKey({
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      d: Buffer.from(seedHex, 'hex').toString('base64url'),
      x: Buffer.from(publicKeyHex, 'hex').toString('base64url'),
    },
    format: 'jwk',
  });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

describe('signing key file', () => {
  let directory: string;

  beforeEach(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'mindweave-audit-key-'));
  });

  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('creates a PKCS#8 PEM file with mode 0600 in a 0700 folder', async () => {
    const keyDirectory = path.join(directory, 'keys');
    const key = await loadOrCreateSigningKey(keyDirectory, 'audit.example/log');
    const filePath = path.join(keyDirectory, SIGNING_KEY_FILE);
    expect((await stat(filePath)).mode & 0o777).toBe(0o600);
    expect((await stat(keyDirectory)).mode & 0o777).toBe(0o700);
    const pem = await readFile(filePath, 'utf8');
    expect(pem.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true);
    expect(key.publicKeyRaw).toHaveLength(32);
    expect(key.name).toBe('audit.example/log');
  });

  it('loads the same key on the next call', async () => {
    const first = await loadOrCreateSigningKey(directory, 'audit.example/log');
    const second = await loadOrCreateSigningKey(directory, 'audit.example/log');
    expect(Buffer.from(second.publicKeyRaw).equals(first.publicKeyRaw)).toBe(true);
  });

  it('concurrent first calls agree on one key', async () => {
    const keys = await Promise.all(
      Array.from({ length: 5 }, () => loadOrCreateSigningKey(directory, 'audit.example/log')),
    );
    const publicKeys = new Set(keys.map((key) => Buffer.from(key.publicKeyRaw).toString('hex')));
    expect(publicKeys.size).toBe(1);
  });

  it('rejects a key file readable by others', async () => {
    await loadOrCreateSigningKey(directory, 'audit.example/log');
    await chmod(path.join(directory, SIGNING_KEY_FILE), 0o644);
    await expect(loadOrCreateSigningKey(directory, 'audit.example/log')).rejects.toThrow(
      /mode 0644.*chmod 600/,
    );
  });

  it('rejects a folder writable by others', async () => {
    await chmod(directory, 0o777);
    await expect(loadOrCreateSigningKey(directory, 'audit.example/log')).rejects.toThrow(
      SigningKeyError,
    );
  });

  it('rejects a symlinked key file', async () => {
    const realDirectory = path.join(directory, 'real');
    await loadOrCreateSigningKey(realDirectory, 'audit.example/log');
    const linkDirectory = path.join(directory, 'link');
    await mkdir(linkDirectory, { mode: 0o700 });
    await symlink(
      path.join(realDirectory, SIGNING_KEY_FILE),
      path.join(linkDirectory, SIGNING_KEY_FILE),
    );
    await expect(loadOrCreateSigningKey(linkDirectory, 'audit.example/log')).rejects.toThrow(
      /is a symbolic link/,
    );
  });

  it('rejects a key file with another key type', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeFile(path.join(directory, SIGNING_KEY_FILE), pem, { mode: 0o600 });
    await expect(loadOrCreateSigningKey(directory, 'audit.example/log')).rejects.toThrow(
      /must be Ed25519, got ec/,
    );
  });

  it('rejects an invalid key name', async () => {
    await expect(loadOrCreateSigningKey(directory, 'bad name')).rejects.toThrow(RangeError);
    expect(() => generateSigningKey('a+b')).toThrow(RangeError);
    expect(() => generateSigningKey('')).toThrow(RangeError);
  });
});

describe('signing key export', () => {
  const key = generateSigningKey('audit.example/log');

  it('public PEM holds the same public key', () => {
    const exported = createPublicKey(publicKeyPem(key)).export({ format: 'jwk' });
    expect(Buffer.from(exported.x as string, 'base64url').equals(key.publicKeyRaw)).toBe(true);
  });

  it('private PEM round-trips', () => {
    const reloaded = signingKeyFromPem(privateKeyPem(key), key.name);
    expect(Buffer.from(reloaded.publicKeyRaw).equals(key.publicKeyRaw)).toBe(true);
  });

  it('verifier key string parses back to the key', () => {
    const text = verifierKeyString(key);
    const parsed = parseVerifierKey(text);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.key.name).toBe('audit.example/log');
    expect(Buffer.from(parsed.key.publicKeyRaw).equals(key.publicKeyRaw)).toBe(true);
    expect(Buffer.from(parsed.key.keyId).equals(noteKeyId(key.name, key.publicKeyRaw))).toBe(true);
    expect(text.split('+')[1]).toBe(Buffer.from(key.keyId).toString('hex'));
  });
});

describe('Ed25519 against tweetnacl', () => {
  it('checkpoint signature verifies with tweetnacl', () => {
    const key = generateSigningKey('audit.example/log');
    const body = formatCheckpoint({
      origin: key.name,
      treeSize: 3,
      rootHash: new Uint8Array(32).fill(7),
      time: '2026-12-04T15:41:36.123Z',
      extensions: [],
    });
    const parsed = parseSignedNote(signCheckpoint(body, key));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const [line] = parsed.note.signatures;
    expect(line).toBeDefined();
    const message = Buffer.from(body, 'utf8');
    expect(nacl.sign.detached.verify(message, line!.signature, key.publicKeyRaw)).toBe(true);
    const altered = Buffer.from(body.replace('\n3\n', '\n4\n'), 'utf8');
    expect(nacl.sign.detached.verify(altered, line!.signature, key.publicKeyRaw)).toBe(false);
  });

  it('tweetnacl signatures verify with verifyEd25519', () => {
    const pair = nacl.sign.keyPair();
    const message = Buffer.from('audit checkpoint\n');
    const signature = nacl.sign.detached(message, pair.secretKey);
    expect(verifyEd25519(pair.publicKey, message, signature)).toBe(true);
    expect(verifyEd25519(pair.publicKey, Buffer.from('other\n'), signature)).toBe(false);
  });

  it('both libraries derive the same public key and signature from a seed', () => {
    const seed = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
    const pair = nacl.sign.keyPair.fromSeed(seed);
    const key = signingKeyFromPem(
      pemFromSeed(Buffer.from(seed).toString('hex'), Buffer.from(pair.publicKey).toString('hex')),
      'seed.example/key',
    );
    expect(Buffer.from(key.publicKeyRaw).equals(pair.publicKey)).toBe(true);
    const message = Buffer.from('same message');
    const ours = signEd25519(key, message);
    const theirs = nacl.sign.detached(message, pair.secretKey);
    expect(Buffer.from(ours).equals(theirs)).toBe(true);
  });
});

describe('RFC 8032 Ed25519 vectors', () => {
  const { cases } = loadJson<{ cases: Rfc8032Case[] }>('rfc/rfc8032_ed25519.json');

  it('has four cases', () => {
    expect(cases).toHaveLength(4);
  });

  it.each(cases)('$name signs and verifies', (vector) => {
    const key = signingKeyFromPem(
      pemFromSeed(vector.secretKeyHex, vector.publicKeyHex),
      'rfc8032.example/key',
    );
    const message = hex(vector.messageHex);
    expect(Buffer.from(key.publicKeyRaw).toString('hex')).toBe(vector.publicKeyHex);
    expect(Buffer.from(signEd25519(key, message)).toString('hex')).toBe(vector.signatureHex);
    const signature = hex(vector.signatureHex);
    expect(verifyEd25519(hex(vector.publicKeyHex), message, signature)).toBe(true);
    const flipped = Uint8Array.from(signature);
    flipped[10] = (flipped[10] as number) ^ 0x01;
    expect(verifyEd25519(hex(vector.publicKeyHex), message, flipped)).toBe(false);
  });
});

describe('CCTV Ed25519 edge-case vectors', () => {
  const cases = loadJson<CctvCase[]>('cctv-ed25519/ed25519vectors.json');

  it('has all 914 cases', () => {
    expect(cases).toHaveLength(914);
  });

  // The OpenSSL bundled with Node (3.0 in Node 20) follows the common ref10 rules. It rejects a
  // non-canonical R encoding and signatures that verify only with the cofactored equation. It
  // accepts the other edge cases, such as low-order or non-canonical A and low-order R.
  it('verifyEd25519 accepts exactly the ref10-valid cases', () => {
    const mismatches: number[] = [];
    let accepted = 0;
    for (const vector of cases) {
      const flags = vector.flags ?? [];
      const expected = !flags.includes('non_canonical_R') && !flags.includes('low_order_residue');
      const result = verifyEd25519(hex(vector.key), Buffer.from(vector.msg), hex(vector.sig));
      if (result) accepted += 1;
      if (result !== expected) mismatches.push(vector.number);
    }
    expect(mismatches).toEqual([]);
    expect(accepted).toBe(208);
  });

  it('verifyEd25519 rejects wrong sizes without throwing', () => {
    expect(verifyEd25519(new Uint8Array(31), Buffer.from('m'), new Uint8Array(64))).toBe(false);
    expect(verifyEd25519(new Uint8Array(32), Buffer.from('m'), new Uint8Array(63))).toBe(false);
  });
});

describe('Wycheproof Ed25519 vectors', () => {
  const file = loadJson<WycheproofEddsaFile>('wycheproof/testvectors_v1/ed25519_test.json');
  const cases = file.testGroups.flatMap((group) =>
    group.tests.map((test) => ({ ...test, publicKey: group.publicKey.pk })),
  );

  it('has every listed case', () => {
    expect(cases).toHaveLength(file.numberOfTests);
  });

  it('verifyEd25519 matches every expected result', () => {
    const mismatches: number[] = [];
    for (const vector of cases) {
      const result = verifyEd25519(hex(vector.publicKey), hex(vector.msg), hex(vector.sig));
      if (result !== (vector.result === 'valid')) mismatches.push(vector.tcId);
    }
    expect(mismatches).toEqual([]);
  });
});
