import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const VECTOR_ROOT = fileURLToPath(new URL('../../fixtures/vectors/', import.meta.url));

/** Reads a test vector file from test/fixtures/vectors. */
export function readVectorFile(relativePath: string): string {
  // The path is a fixed name from a test file, inside the fixtures folder.
  // eslint-disable-next-line security/detect-non-literal-fs-filename
  return readFileSync(path.join(VECTOR_ROOT, relativePath), 'utf8');
}

/** Test case of a Wycheproof AEAD vector file (aead_test_schema_v1). */
export interface WycheproofAeadTest {
  tcId: number;
  comment: string;
  flags: string[];
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: 'valid' | 'invalid' | 'acceptable';
}

/** Test group of a Wycheproof AEAD vector file. */
export interface WycheproofAeadGroup {
  keySize: number;
  ivSize: number;
  tagSize: number;
  tests: WycheproofAeadTest[];
}

/** Test case of a Wycheproof HKDF vector file (hkdf_test_schema_v1). */
export interface WycheproofHkdfTest {
  tcId: number;
  comment: string;
  ikm: string;
  salt: string;
  info: string;
  size: number;
  okm: string;
  result: 'valid' | 'invalid' | 'acceptable';
}

/** Reads the test groups of a Wycheproof vector file under testvectors_v1. */
export function readWycheproofGroups<T>(fileName: string): T[] {
  const parsed = JSON.parse(readVectorFile(`wycheproof/testvectors_v1/${fileName}`)) as {
    testGroups: T[];
  };
  return parsed.testGroups;
}
