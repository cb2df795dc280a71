import { execFile } from 'node:child_process';
import { createDecipheriv } from 'node:crypto';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SecretRecorder, signIn } from '../application/identity-api.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const run = promisify(execFile);

let t: TestServer;
let dump: string;

/** Returns the column names and data rows of `COPY public.<table>` in a pg_dump. */
function copyRows(text: string, table: string): { columns: string[]; rows: string[][] } {
  const start = text.indexOf(`COPY public.${table} (`);
  expect(start).toBeGreaterThanOrEqual(0);
  const header = text.slice(start, text.indexOf('\n', start));
  const columns = header.slice(header.indexOf('(') + 1, header.indexOf(')')).split(', ');
  const body = text.slice(start + header.length + 1, text.indexOf('\n\\.\n', start));
  const rows = body === '' ? [] : body.split('\n').map((line) => line.split('\t'));
  return { columns, rows };
}

/** Opens a `pd1.` sealed audit value with a key taken from the dump, or returns null. */
function openWithDumpedKey(sealed: string, key: Buffer, field: string): string | null {
  const [format, subjectPart, bodyPart] = sealed.split('.');
  if (format !== 'pd1' || !subjectPart || !bodyPart) return null;
  const subject = Buffer.from(subjectPart, 'base64url').toString('utf8');
  const body = Buffer.from(bodyPart, 'base64url');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, 12), {
      authTagLength: 16,
    });
    decipher.setAAD(Buffer.from(`pd1\n${subject}\n${field}`, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([
      decipher.update(body.subarray(12, body.length - 16)),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    return null;
  }
}

beforeAll(async () => {
  t = await startTestServer();
  // A sign-in writes audit entries whose actor email is sealed under the owner's subject key.
  const login = await signIn(t, new SecretRecorder(), t.boot.adminEmail, t.boot.adminPassword);
  expect(login.status).toBe(200);
  const { stdout } = await run('pg_dump', ['--dbname', t.config.DATABASE_URL as string], {
    maxBuffer: 256 * 1024 * 1024,
  });
  dump = stdout;
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

describe('audit personal data in a database dump', () => {
  it('stores no subject key in the clear', () => {
    const keys = copyRows(dump, 'personal_data_keys');
    const keyColumn = keys.columns.indexOf('key_material');
    expect(keys.rows.length).toBeGreaterThan(0);
    for (const row of keys.rows) expect(row[keyColumn]).toBe('\\N');
  });

  it('stays sealed against every dumped key byte', () => {
    // Every 32-byte window of every bytea value of personal_data_keys, wrapped keys included.
    const keys = copyRows(dump, 'personal_data_keys');
    const candidates = keys.rows
      .flat()
      .filter((value) => value.startsWith('\\\\x'))
      .map((value) => Buffer.from(value.slice(3), 'hex'))
      .flatMap((bytes) =>
        Array.from({ length: Math.max(bytes.length - 31, 0) }, (_, at) =>
          bytes.subarray(at, at + 32),
        ),
      );
    expect(candidates.length).toBeGreaterThan(0);

    const sealedEmails = [...dump.matchAll(/pd1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g)].map(
      (match) => match[0],
    );
    expect(sealedEmails.length).toBeGreaterThan(0);

    const opened = sealedEmails.flatMap((sealed) =>
      candidates.map((key) => openWithDumpedKey(sealed, key, 'actor_email')),
    );
    expect(opened).not.toContain(t.boot.adminEmail);
  });
});
