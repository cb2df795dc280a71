import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { AuditChainWorker } from '../../../src/monitoring/audit/audit-chain-worker.js';
import { chainRecords, type ChainBatch } from '../../../src/monitoring/audit/audit-chain.js';
import { buildAuditRecord, type AuditRecord } from '../../../src/monitoring/audit/audit-entry.js';
import { appendAuditRecords, MAIN_LOG } from '../../../src/monitoring/audit/audit.repository.js';
import { verifyAuditLog } from '../../../src/monitoring/audit/audit-verify.service.js';
import { personalDataSealer } from '../../../src/data/personal-data/personal-data-sealer.js';
import { createAuditFixture, type AuditFixture } from '../../support/audit-fixture.js';

let fixture: AuditFixture | undefined;
let worker: AuditChainWorker | undefined;

afterEach(async () => {
  await worker?.close();
  worker = undefined;
  await fixture?.close();
  fixture = undefined;
});

const USER_ID = '3f1f7a52-5d7b-4d7e-9a47-4b6d1d0f2c11';
const KEY_ID = '8d3c1c0e-2f52-4b8e-9c38-0b9f3e1f6a21';
const ORG_ID = '0b6a5f0e-7c1d-4d8e-8f5a-2c3b4d5e6f70';

/** Records like those of the gateway and of admin actions, some with personal values. */
function records(prefix: string, count: number): AuditRecord[] {
  return Array.from({ length: count }, (_, i) =>
    i % 2 === 0
      ? buildAuditRecord(
          { type: 'api_key', id: KEY_ID, orgId: ORG_ID, projectId: ORG_ID },
          { requestId: randomUUID(), ip: '203.0.113.9', userAgent: 'sdk/1.0' },
          { action: 'gateway.request', resourceType: 'model', metadata: { index: i, prefix } },
        )
      : buildAuditRecord(
          { type: 'user', id: USER_ID, email: 'ana@example.com', sessionId: null },
          { requestId: null, ip: null, userAgent: null },
          { action: `${prefix}.update`, newValues: { name: 'Ana', email: 'ana@example.com' } },
        ),
  );
}

describe('audit chain worker', () => {
  it('produces the rows of the in-thread chain', async () => {
    worker = new AuditChainWorker();
    // Without personal values the rows are deterministic: sealing draws a random IV.
    const batch: ChainBatch = {
      logId: MAIN_LOG,
      nextSeq: 6,
      previousHash: 'ab'.repeat(32),
      frontier: ['01'.repeat(32), '02'.repeat(32)],
      timestamp: '2026-12-04T19:00:00.123456Z',
      records: Array.from({ length: 40 }, (_, i) =>
        buildAuditRecord(
          { type: 'system', id: null },
          { requestId: null, ip: null, userAgent: null },
          { action: 'test.worker', metadata: { i, text: 'a\u0000b' } },
        ),
      ),
      keys: new Map(),
    };
    const inThread = await chainRecords(batch);
    const inWorker = await worker.chain(batch);
    expect(inWorker.lastHash).toBe(inThread.lastHash);
    expect(inWorker.frontier).toEqual(inThread.frontier);
    expect((JSON.parse(inWorker.rowsJson) as unknown[]).length).toBe(40);
    expect(inWorker.rowsJson).toBe(inThread.rowsJson);
  });

  it('keeps one verifiable gap-free chain with in-thread writers', async () => {
    fixture = await createAuditFixture();
    worker = new AuditChainWorker();
    const chain = worker.chain;
    const db = fixture.app;
    // Worker and in-thread appends run at the same time and queue on the head's row lock.
    await Promise.all([
      (async () => {
        for (let i = 0; i < 15; i++) {
          await db.transaction((tx) =>
            appendAuditRecords(tx, records(`w${i}`, 1 + (i % 7)), MAIN_LOG, chain),
          );
        }
      })(),
      (async () => {
        for (let i = 0; i < 15; i++) {
          await db.transaction((tx) => appendAuditRecords(tx, records(`t${i}`, 1 + (i % 5))));
        }
      })(),
    ]);

    const { rows } = await fixture.superuser.query<{ count: string; max: string }>(
      'SELECT count(*) AS count, max(seq) AS max FROM audit_logs',
    );
    const total = Number(rows[0]?.count);
    expect(total).toBeGreaterThan(60);
    expect(Number(rows[0]?.max)).toBe(total);

    const signed = await fixture.checkpointer.sign();
    const report = await verifyAuditLog(db, {
      logId: MAIN_LOG,
      verifierKey: fixture.key,
      externalCheckpoint: signed?.signedNote,
    });
    expect(report.fault).toBeNull();
    expect(report.entriesVerified).toBe(total);
  });

  it('seals personal fields that open with the subject key', async () => {
    fixture = await createAuditFixture();
    worker = new AuditChainWorker();
    await fixture.app.transaction((tx) =>
      appendAuditRecords(tx, records('sealed', 2), MAIN_LOG, worker?.chain),
    );
    const { rows } = await fixture.superuser.query<{
      actor_ip: string;
      actor_email: string | null;
      new_values: { email: string } | null;
    }>('SELECT actor_ip, actor_email, new_values FROM audit_logs ORDER BY seq');
    const [gateway, admin] = rows;
    expect(gateway?.actor_ip).toMatch(/^pd1\./);
    expect(await personalDataSealer.unseal(fixture.app, gateway?.actor_ip ?? '', 'actor_ip')).toBe(
      '203.0.113.9',
    );
    const email = admin?.actor_email ?? '';
    expect(await personalDataSealer.unseal(fixture.app, email, 'actor_email')).toBe(
      'ana@example.com',
    );
    const sealedEmail = admin?.new_values?.email ?? '';
    expect(await personalDataSealer.unseal(fixture.app, sealedEmail, 'new_values.email')).toBe(
      'ana@example.com',
    );
  });

  it('passes chaining errors back', async () => {
    worker = new AuditChainWorker();
    const batch: ChainBatch = {
      logId: MAIN_LOG,
      nextSeq: 4,
      previousHash: null,
      // A log of 3 entries has two frontier nodes, so one node is an invalid head.
      frontier: ['01'.repeat(32)],
      timestamp: '2026-12-04T19:00:00.000000Z',
      records: [],
      keys: new Map(),
    };
    await expect(worker.chain(batch)).rejects.toThrow(/frontier of size 3 has 2 nodes/);
    const valid = await worker.chain({ ...batch, frontier: ['01'.repeat(32), '02'.repeat(32)] });
    expect(valid.frontier).toEqual(['01'.repeat(32), '02'.repeat(32)]);
  });

  it('rejects batches after close', async () => {
    worker = new AuditChainWorker();
    await worker.close();
    const batch: ChainBatch = {
      logId: MAIN_LOG,
      nextSeq: 1,
      previousHash: null,
      frontier: [],
      timestamp: '2026-12-04T19:00:00.000000Z',
      records: [],
      keys: new Map(),
    };
    await expect(worker.chain(batch)).rejects.toThrow(/closed/);
  });

  it.runIf(process.platform === 'linux')('runs at a lower priority than requests', async () => {
    // Field 19 of /proc/<pid>/task/<tid>/stat is the thread's nice value. The command name in
    // field 2 may contain spaces, so fields are counted after its closing parenthesis.
    const niceOf = (tid: string) => {
      // eslint-disable-next-line security/detect-non-literal-fs-filename -- a /proc path
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    };
    const mainNice = niceOf(String(process.pid));
    const before = new Set(readdirSync('/proc/self/task'));
    worker = new AuditChainWorker();
    await worker.chain({
      logId: MAIN_LOG,
      nextSeq: 1,
      previousHash: null,
      frontier: [],
      timestamp: '2026-12-04T19:00:00.123456Z',
      records: records('priority', 2),
      keys: new Map(),
    });
    const started = readdirSync('/proc/self/task').filter((tid) => !before.has(tid));
    const nices = started.map(niceOf);
    expect(nices).toContain(Math.min(19, mainNice + 10));
    expect(niceOf(String(process.pid))).toBe(mainNice);
  });
});
