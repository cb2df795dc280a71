import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { afterAll, describe, expect, it } from 'vitest';

import { MAIN_LOG } from '../../../src/monitoring/audit/audit.repository.js';
import { verifyAuditLog } from '../../../src/monitoring/audit/audit-verify.service.js';
import { createAuditFixture, type AuditFixture } from '../../support/audit-fixture.js';

const run = promisify(execFile);
const WRITER = fileURLToPath(new URL('../../support/audit-writer.process.ts', import.meta.url));
const WRITERS = 4;
const PER_WRITER = 10_000;

let fixture: AuditFixture | undefined;

afterAll(async () => {
  await fixture?.close();
});

describe('audit log with concurrent writer processes', () => {
  it('forms one verifiable chain of every entry', async () => {
    fixture = await createAuditFixture();
    const url = fixture.database.url;
    const outputs = await Promise.all(
      Array.from({ length: WRITERS }, (_, i) =>
        run(process.execPath, ['--import', 'tsx', WRITER, url, String(PER_WRITER), `w${i}`], {
          timeout: 240_000,
        }),
      ),
    );
    for (const [i, output] of outputs.entries()) {
      expect(output.stdout).toContain(`w${i} wrote ${PER_WRITER}`);
    }

    const total = WRITERS * PER_WRITER;
    const { rows } = await fixture.superuser.query<{
      count: string;
      max: string;
      distinct: string;
    }>(
      'SELECT count(*) AS count, max(seq) AS max, count(DISTINCT seq) AS distinct FROM audit_logs',
    );
    expect(Number(rows[0]?.count)).toBe(total);
    expect(Number(rows[0]?.max)).toBe(total);
    expect(Number(rows[0]?.distinct)).toBe(total);

    const signed = await fixture.checkpointer.sign();
    expect(signed?.treeSize).toBe(total);
    const report = await verifyAuditLog(fixture.app, {
      logId: MAIN_LOG,
      verifierKey: fixture.key,
      externalCheckpoint: signed?.signedNote,
    });
    expect(report.fault).toBeNull();
    expect(report.entriesVerified).toBe(total);
    expect(report.externalCheckpoint).toEqual({ treeSize: total, matched: true });
  }, 300_000);
});
