/* eslint-disable security/detect-non-literal-fs-filename -- paths are built from the scan
   folder that the global setup creates, not from request input. */
import { appendFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';

import pg from 'pg';

import type { Queryable } from '../../src/data/database/database.js';

/**
 * The suite-wide secret scan, worker side. Tests and test servers append what they create to
 * files in the folder named by this variable: secrets (passwords, tokens, TOTP secrets, API
 * keys), server log lines, error response bodies and audit rows. The global setup scans them
 * all after the last test file. Without the variable (a run without the global setup), every
 * function here does nothing.
 */
export const SCAN_DIR_VARIABLE = 'MINDWEAVE_SECRET_SCAN_DIR';

function fileFor(kind: 'secrets' | 'logs' | 'errors' | 'audit'): string | null {
  const dir = process.env[SCAN_DIR_VARIABLE];
  return dir ? join(dir, `${kind}-${process.pid}.jsonl`) : null;
}

function append(kind: 'secrets' | 'logs' | 'errors' | 'audit', values: string[]): void {
  const file = fileFor(kind);
  if (!file || values.length === 0) return;
  appendFileSync(file, values.map((value) => `${JSON.stringify(value)}\n`).join(''));
}

/** Registers values that must never appear in a log line, audit row or error body. */
export function registerSecrets(...values: (string | null | undefined)[]): void {
  append(
    'secrets',
    values.filter((value): value is string => typeof value === 'string' && value !== ''),
  );
}

export function recordLogLines(lines: string[]): void {
  append('logs', lines);
}

/**
 * Appends every audit row of a test server's database, read just before it stops. With a
 * database URL, the rows are read as the connecting user, who owns the tables and is not
 * limited by row-level security; an embedded server's rows are read through its own database.
 */
export async function recordAuditRows(source: string | Queryable): Promise<void> {
  if (!fileFor('audit')) return;
  const sql = 'SELECT row_to_json(a)::text AS row FROM audit_logs a';
  let rows: { row: string }[];
  if (typeof source === 'string') {
    const client = new pg.Client({ connectionString: source });
    await client.connect();
    try {
      rows = (await client.query<{ row: string }>(sql)).rows;
    } finally {
      await client.end();
    }
  } else {
    rows = (await source.query<{ row: string }>(sql)).rows;
  }
  append(
    'audit',
    rows.map((row) => row.row),
  );
}

// Response fields that carry a secret the server hands out once. A value is taken only when
// it has at least 16 characters, and `key` only in the form of a MindWeave API key, because
// other responses use `key` for names.
const SECRET_FIELDS = new Set([
  'token',
  'csrfToken',
  'challengeToken',
  'secret',
  'key',
  'apiKey',
  'adminPassword',
  'recoveryCodes',
]);
const MIN_HARVESTED_LENGTH = 16;
const MAX_CAPTURED_BYTES = 1024 * 1024;

function isIssuedSecret(field: string, value: unknown): value is string {
  if (typeof value !== 'string' || value.length < MIN_HARVESTED_LENGTH) return false;
  return field !== 'key' || value.startsWith('mw_');
}

function harvestSecrets(value: unknown, found: string[]): void {
  if (Array.isArray(value)) {
    for (const item of value) harvestSecrets(item, found);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [field, inner] of Object.entries(value as Record<string, unknown>)) {
    if (!SECRET_FIELDS.has(field)) {
      harvestSecrets(inner, found);
      continue;
    }
    const candidates = Array.isArray(inner) ? inner : [inner];
    found.push(...candidates.filter((item) => isIssuedSecret(field, item)));
  }
}

/**
 * Watches every response of a test server. Error bodies (status 400 and above) are recorded
 * for the scan. Secrets in successful JSON responses (session tokens, API keys, TOTP secrets,
 * recovery codes) are registered, so tests need not register what the server issued.
 */
export function captureServerResponses(server: Server): void {
  if (!process.env[SCAN_DIR_VARIABLE]) return;
  server.on('request', (_request, response) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const keep = (chunk: unknown, encoding: unknown) => {
      if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
      if (size >= MAX_CAPTURED_BYTES) return;
      const buffer =
        typeof chunk === 'string'
          ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
          : Buffer.from(chunk as Uint8Array);
      size += buffer.length;
      chunks.push(buffer);
    };
    const originalWrite = response.write.bind(response) as (...args: unknown[]) => boolean;
    const originalEnd = response.end.bind(response) as (...args: unknown[]) => typeof response;
    response.write = ((...args: unknown[]) => {
      keep(args[0], args[1]);
      return originalWrite(...args);
    }) as typeof response.write;
    response.end = ((...args: unknown[]) => {
      keep(args[0], args[1]);
      return originalEnd(...args);
    }) as typeof response.end;

    response.on('finish', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (response.statusCode >= 400) {
        append('errors', [body]);
        return;
      }
      const contentType = String(response.getHeader('content-type') ?? '');
      if (!contentType.startsWith('application/json')) return;
      try {
        const found: string[] = [];
        harvestSecrets(JSON.parse(body), found);
        registerSecrets(...found);
      } catch {
        // A body cut at the capture limit is not valid JSON; its secrets are not registered.
      }
    });
  });
}
