import pg from 'pg';

import type { Database } from '../../src/data/database/database.js';
import { migrate } from '../../src/data/database/migrate.js';
import { openPostgresDatabase } from '../../src/data/database/postgres-database.js';
import { APPLICATION_ROLE } from '../../src/data/database/open-database.js';
import { AuditCheckpointer } from '../../src/monitoring/audit/audit-checkpointer.js';
import { buildAuditRecord } from '../../src/monitoring/audit/audit-entry.js';
import { appendAuditRecords, MAIN_LOG } from '../../src/monitoring/audit/audit.repository.js';
import { createLogger } from '../../src/monitoring/logging/logger.js';
import {
  generateSigningKey,
  type AuditSigningKey,
} from '../../src/monitoring/audit/signing-key.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

/** A migrated database with an audit log, the application's connection and a superuser's. */
export interface AuditFixture {
  database: TestDatabase;
  /** Connected as the application role, like the server. */
  app: Database;
  /** A superuser connection, for tampering. */
  superuser: pg.Client;
  key: AuditSigningKey;
  checkpointer: AuditCheckpointer;
  close(): Promise<void>;
}

export async function createAuditFixture(): Promise<AuditFixture> {
  const database = await createTestDatabase();
  const owner = await openPostgresDatabase(database.url, { poolSize: 2 });
  await migrate(owner);
  await owner.close();
  const app = await openPostgresDatabase(database.url, { role: APPLICATION_ROLE });
  const superuser = new pg.Client({ connectionString: database.url });
  await superuser.connect();
  const key = generateSigningKey('test.mindweave.local/audit');
  const checkpointer = new AuditCheckpointer(app, key, {
    logId: MAIN_LOG,
    everyEntries: 1_000_000,
    intervalMs: 3_600_000,
    logger: createLogger('silent'),
  });
  return {
    database,
    app,
    superuser,
    key,
    checkpointer,
    async close() {
      await superuser.end();
      await app.close();
      await database.drop();
    },
  };
}

/** Appends `count` varied entries, one transaction each, the way services write them. */
export async function appendSampleEntries(
  db: Database,
  count: number,
  prefix = 'sample',
): Promise<void> {
  for (let i = 0; i < count; i++) {
    await db.transaction((tx) =>
      appendAuditRecords(tx, [
        buildAuditRecord(
          i % 3 === 0
            ? { type: 'system', id: null }
            : {
                type: 'user',
                id: '3f1f7a52-5d7b-4d7e-9a47-4b6d1d0f2c11',
                email: 'ana@example.com',
                sessionId: null,
              },
          { requestId: null, ip: i % 2 === 0 ? '203.0.113.7' : null, userAgent: 'test-agent/1.0' },
          {
            action: `${prefix}.event_${i % 5}`,
            resourceType: 'project',
            metadata: { index: i, nested: { list: [1, 'two', null], flag: i % 2 === 0 } },
            newValues: i % 4 === 0 ? { name: 'Ana', email: 'ana@example.com' } : null,
          },
        ),
      ]),
    );
  }
}

/** Runs tampering SQL as a superuser with the append-only triggers switched off. */
export async function tamper(
  fixture: AuditFixture,
  sql: string,
  params: unknown[] = [],
): Promise<void> {
  await fixture.superuser.query('BEGIN');
  await fixture.superuser.query("SET LOCAL session_replication_role = 'replica'");
  await fixture.superuser.query(sql, params);
  await fixture.superuser.query('COMMIT');
}
