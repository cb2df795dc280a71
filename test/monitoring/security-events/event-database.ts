import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import type { Logger } from 'pino';

import type { Database } from '../../../src/data/database/database.js';
import { openMigratedDatabase } from '../../../src/data/database/open-database.js';
import { createLogger } from '../../../src/monitoring/logging/logger.js';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.js';

/** A migrated database on the real PostgreSQL server, opened as the application role. */
export interface EventDatabase {
  db: Database;
  url: string;
  close(): Promise<void>;
}

/** Creates a fresh database, migrates it and opens it as the application role. */
export async function openEventDatabase(): Promise<EventDatabase> {
  const database: TestDatabase = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'mindweave-security-events-'));
  const db = await openMigratedDatabase(
    { DATABASE_URL: database.url, MINDWEAVE_DATA_DIR: dataDir },
    'security events test',
  );
  return {
    db,
    url: database.url,
    async close() {
      await db.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Creates a logger that keeps its lines, parsed, for assertions. */
export function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { logger: createLogger('info', sink), lines };
}
