/**
 * Measures FieldCipher encrypt and decrypt throughput against raw AES-256-GCM from node:crypto on
 * the same plaintexts in the same run. Run with `npx tsx bench/crypto/field-encryption.ts`.
 * Operations run one after another on one thread, and the numbers depend on the machine.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';

import { FieldCipher } from '../../src/data/crypto/field-cipher.js';
import { InMemoryKeyStore } from '../../src/data/crypto/in-memory-key-store.js';
import { KeyHierarchy } from '../../src/data/crypto/key-hierarchy.js';
import { MemoryKeyUsageSink } from '../../src/data/crypto/key-usage-log.js';
import { LocalFileKmsProvider } from '../../src/data/kms/local-file-provider.js';

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

type Operation = () => unknown;

async function measureOnce(operation: Operation): Promise<number> {
  let count = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(DURATION_MS) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 256; i += 1) {
      await operation();
    }
    count += 256;
    now = process.hrtime.bigint();
  }
  return count / (Number(now - start) / 1e9);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/**
 * Measures every operation in interleaved rounds and returns the median rate of each, so load
 * from other processes affects all of them alike.
 */
async function measureAll(operations: Record<string, Operation>): Promise<Record<string, number>> {
  const samples: Record<string, number[]> = {};
  for (const [name, operation] of Object.entries(operations)) {
    samples[name] = [];
    // Warm-up lets V8 optimize the path before timing.
    for (let i = 0; i < 2000; i += 1) {
      await operation();
    }
  }
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const [name, operation] of Object.entries(operations)) {
      samples[name]?.push(await measureOnce(operation));
    }
  }
  const rates: Record<string, number> = {};
  for (const [name, values] of Object.entries(samples)) {
    rates[name] = median(values);
    const formatted = Math.round(median(values)).toLocaleString('en-US');
    console.log(`${name.padEnd(36)} ${formatted.padStart(12)} ops/s (median of ${ROUNDS})`);
  }
  return rates;
}

async function main(): Promise<void> {
  const directory = await mkdtemp(path.join(tmpdir(), 'mindweave-bench-'));
  try {
    const kms = await LocalFileKmsProvider.open({ directory });
    const hierarchy = new KeyHierarchy({
      kms,
      masterKeyId: 'local-master',
      store: new InMemoryKeyStore(),
      usageSink: new MemoryKeyUsageSink(),
    });
    await hierarchy.initialize('bench');
    const cipher = new FieldCipher(hierarchy);
    const location = { tenant: 'org-bench', table: 'users', column: 'email', rowId: '42' };
    const rawKey = randomBytes(32);
    // Raw AES-GCM gets associated data of the same size as the field cipher's.
    const rawAad = randomBytes(100);

    console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}`);
    for (const size of [32, 1024]) {
      const plaintext = Buffer.from('a'.repeat(size));
      console.log(`\nplaintext ${size} bytes`);

      const rawIv = randomBytes(12);
      const rawCipher = createCipheriv('aes-256-gcm', rawKey, rawIv, { authTagLength: 16 });
      rawCipher.setAAD(rawAad);
      const rawCiphertext = Buffer.concat([rawCipher.update(plaintext), rawCipher.final()]);
      const rawTag = rawCipher.getAuthTag();
      const ciphertext = await cipher.encrypt(location, plaintext);

      const rates = await measureAll({
        'raw aes-256-gcm encrypt': () => {
          const iv = randomBytes(12);
          const raw = createCipheriv('aes-256-gcm', rawKey, iv, { authTagLength: 16 });
          raw.setAAD(rawAad);
          Buffer.concat([iv, raw.update(plaintext), raw.final(), raw.getAuthTag()]);
        },
        'FieldCipher.encrypt (cached key)': () => cipher.encrypt(location, plaintext),
        'raw aes-256-gcm decrypt': () => {
          const raw = createDecipheriv('aes-256-gcm', rawKey, rawIv, { authTagLength: 16 });
          raw.setAAD(rawAad);
          raw.setAuthTag(rawTag);
          Buffer.concat([raw.update(rawCiphertext), raw.final()]);
        },
        'FieldCipher.decrypt (cached key)': () => cipher.decrypt(location, ciphertext),
      });
      const ratio = (field: string, raw: string): string =>
        ((rates[field] ?? 0) / (rates[raw] ?? 1)).toFixed(2);
      console.log(
        `field/raw ratio: encrypt ${ratio('FieldCipher.encrypt (cached key)', 'raw aes-256-gcm encrypt')}, ` +
          `decrypt ${ratio('FieldCipher.decrypt (cached key)', 'raw aes-256-gcm decrypt')}`,
      );
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

await main();
