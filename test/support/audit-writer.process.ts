/**
 * A separate writer process for the concurrency test: appends `count` audit entries to the
 * database at `url` in transactions of 1 to 10 entries, as the application role.
 * Usage: node --import tsx audit-writer.process.ts <url> <count> <writer-name>
 */
import { APPLICATION_ROLE } from '../../src/data/database/open-database.js';
import { openPostgresDatabase } from '../../src/data/database/postgres-database.js';
import { buildAuditRecord } from '../../src/monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../src/monitoring/audit/audit.repository.js';

const [url, countText, writer] = process.argv.slice(2);
const count = Number(countText);
const db = await openPostgresDatabase(url ?? '', { role: APPLICATION_ROLE, poolSize: 2 });
let written = 0;
let batch = 0;
while (written < count) {
  const size = Math.min(count - written, 1 + (batch % 10));
  const records = Array.from({ length: size }, (_, i) =>
    buildAuditRecord(
      { type: 'system', id: null },
      { requestId: null, ip: '198.51.100.4', userAgent: `writer/${writer}` },
      { action: 'test.concurrent_append', metadata: { writer, index: written + i } },
    ),
  );
  await db.transaction((tx) => appendAuditRecords(tx, records));
  written += size;
  batch++;
}
await db.close();
process.stdout.write(`${writer} wrote ${written}\n`);
