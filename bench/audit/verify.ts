/**
 * Measures audit log verification throughput in entries per second on a log of 200,000
 * entries (by default) in the real PostgreSQL server. After the fill it times one
 * `verifyAuditLog` pass before ANALYZE. Then, in rounds on the same entries, it times
 * `verifyAuditLog` (the database path), reading without verifying, a prefetching reader, the
 * in-memory `ChainVerifier`, canonical encoding alone, and raw SHA-256 of the canonical bytes.
 * The target is 1,000,000 entries per minute through `verifyAuditLog`.
 *
 * Run with `npx tsx bench/audit/verify.ts [--entries 200000] [--rounds 3]`. To profile, run it
 * under `node --cpu-prof --import tsx` with `--profile-window FILE`, then pass the profile and
 * FILE to `profile-top.ts`.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';

import pg from 'pg';

import type { Database } from '../../src/data/database/database.js';
import { APPLICATION_ROLE } from '../../src/data/database/open-database.js';
import { openPostgresDatabase } from '../../src/data/database/postgres-database.js';
import { AuditCheckpointer } from '../../src/monitoring/audit/audit-checkpointer.js';
import {
  readStoredEntries,
  STORED_ENTRY_COLUMNS,
} from '../../src/monitoring/audit/audit-entry.reader.js';
import { verifyAuditLog } from '../../src/monitoring/audit/audit-verify.service.js';
import { appendAuditRecords, MAIN_LOG } from '../../src/monitoring/audit/audit.repository.js';
import { encodeEntry } from '../../src/monitoring/audit/canonical-encoding.js';
import { ChainVerifier, type StoredAuditEntry } from '../../src/monitoring/audit/chain-verifier.js';
import { ENTRY_HASH_LABEL } from '../../src/monitoring/audit/entry-hash.js';
import {
  generateSigningKey,
  type AuditSigningKey,
} from '../../src/monitoring/audit/signing-key.js';
import { createLogger } from '../../src/monitoring/logging/logger.js';
import { describeEnvironment, withBenchDatabase } from './bench-database.js';
import { formatCount, median, printTable, secondsSince } from './report.js';
import { readStoredEntriesPrefetching } from './prefetching-reader.js';
import { buildSampleRecord } from './sample-records.js';

/** The rate the database path must reach: 1,000,000 entries per minute. */
const TARGET_PER_SECOND = 1_000_000 / 60;
/** Entries per fill transaction. 1,000 rows of 23 columns stay under PostgreSQL's 65,535 parameters. */
const FILL_BATCH = 1_000;
/** A checkpoint is signed after every this many entries, as a running server would. */
const CHECKPOINT_EVERY = 50_000;

const { values: options } = parseArgs({
  options: {
    entries: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '3' },
    'profile-window': { type: 'string' },
  },
});
const entryCount = Number(options.entries);
const rounds = Number(options.rounds);
if (!Number.isInteger(entryCount) || entryCount < FILL_BATCH || entryCount > 10_000_000) {
  throw new RangeError(
    `--entries must be an integer from ${FILL_BATCH} to 10000000, got ${entryCount}`,
  );
}
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) {
  throw new RangeError(`--rounds must be an integer from 1 to 20, got ${rounds}`);
}

/** Appends `entryCount` sample entries and signs a checkpoint every `CHECKPOINT_EVERY`. */
async function fillLog(db: Database, key: AuditSigningKey): Promise<string> {
  const checkpointer = new AuditCheckpointer(db, key, {
    logId: MAIN_LOG,
    everyEntries: CHECKPOINT_EVERY,
    intervalMs: 3_600_000,
    logger: createLogger('silent'),
  });
  const start = process.hrtime.bigint();
  let appended = 0;
  while (appended < entryCount) {
    const size = Math.min(FILL_BATCH, entryCount - appended);
    const records = Array.from({ length: size }, (_, index) => buildSampleRecord(appended + index));
    await db.transaction((tx) => appendAuditRecords(tx, records));
    appended += size;
    if (appended % CHECKPOINT_EVERY === 0 || appended === entryCount) await checkpointer.sign();
    if (appended % 50_000 === 0) {
      console.log(`filled ${formatCount(appended)} entries in ${secondsSince(start).toFixed(1)} s`);
    }
  }
  const latest = await checkpointer.sign();
  const { rows } = await db.query<{ signedNote: string }>(
    `SELECT signed_note AS "signedNote" FROM audit_checkpoints WHERE log_id = $1
      ORDER BY tree_size DESC LIMIT 1`,
    [MAIN_LOG],
  );
  const note = latest?.signedNote ?? rows[0]?.signedNote;
  if (note === undefined) throw new Error('no checkpoint was signed during the fill');
  console.log(
    `fill: ${formatCount(entryCount)} entries in ${secondsSince(start).toFixed(1)} s ` +
      `(transactions of ${FILL_BATCH})`,
  );
  return note;
}

/** Runs ANALYZE on the audit log and its partitions as the superuser. */
async function analyzeAuditLogs(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('ANALYZE audit_logs');
  } finally {
    await client.end();
  }
}

/** Returns the plan node types of the first page query of `readStoredEntries`, outermost first. */
async function readerPlan(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT ${STORED_ENTRY_COLUMNS}, timestamp::text AS "rawTime" FROM audit_logs
        WHERE log_id = $1 AND (seq, timestamp) > ($2::bigint, $3::timestamptz)
        ORDER BY audit_logs.seq, audit_logs.timestamp LIMIT $4`,
      [MAIN_LOG, 0, '-infinity', 5000],
    );
    const nodes = rows.map((row) =>
      row['QUERY PLAN'].replace(/^[\s>-]+/, '').replace(/\s+\(cost=.*$/, ''),
    );
    return nodes
      .filter((node) => !/^(Index Cond|Recheck Cond|Sort Key|Filter):/.test(node))
      .join(' > ');
  } finally {
    await client.end();
  }
}

/** One measured path: a label and a function that handles every entry once and counts them. */
interface Case {
  name: string;
  run: () => Promise<number> | number;
}

/** Measures each case once per round, in turn, and returns its entries per second by name. */
async function measureRounds(cases: Case[]): Promise<Map<string, number[]>> {
  const rates = new Map<string, number[]>(cases.map((item) => [item.name, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const item of cases) {
      const start = process.hrtime.bigint();
      const count = await item.run();
      const rate = count / secondsSince(start);
      if (count !== entryCount) {
        throw new Error(`${item.name} handled ${count} of ${entryCount} entries`);
      }
      rates.get(item.name)?.push(rate);
      console.log(`round ${round}, ${item.name}: ${formatCount(rate)} entries/s`);
    }
  }
  return rates;
}

async function readAll(db: Database): Promise<StoredAuditEntry[]> {
  const entries: StoredAuditEntry[] = [];
  for await (const entry of readStoredEntries(db, MAIN_LOG)) entries.push(entry);
  return entries;
}

/** Feeds entries to a fresh `ChainVerifier` and returns the verified count or throws its fault. */
async function verifyInMemory(
  entries: Iterable<StoredAuditEntry> | AsyncIterable<StoredAuditEntry>,
): Promise<number> {
  const verifier = new ChainVerifier({ logId: MAIN_LOG });
  for await (const entry of entries) {
    const fault = verifier.push(entry);
    if (fault) throw new Error(`ChainVerifier reported a fault: ${JSON.stringify(fault)}`);
  }
  const result = verifier.finish();
  if (!result.ok)
    throw new Error(`ChainVerifier reported a fault: ${JSON.stringify(result.fault)}`);
  return result.treeSize;
}

const LABEL_BYTES = Buffer.from(ENTRY_HASH_LABEL, 'utf8');
const LEAF_PREFIX = Buffer.from([0x00]);

function hashEntryAndLeaf(canonical: Uint8Array[]): number {
  for (const bytes of canonical) {
    createHash('sha256').update(LABEL_BYTES).update(bytes).digest('hex');
    createHash('sha256').update(LEAF_PREFIX).update(bytes).digest();
  }
  return canonical.length;
}

function hashOnce(canonical: Uint8Array[]): number {
  for (const bytes of canonical) createHash('sha256').update(bytes).digest();
  return canonical.length;
}

async function main(): Promise<void> {
  await withBenchDatabase(async (database) => {
    const environment = await describeEnvironment(database.url);
    console.log(`database ${database.name}`);
    for (const [name, value] of Object.entries(environment)) console.log(`${name}: ${value}`);

    const db = await openPostgresDatabase(database.url, { role: APPLICATION_ROLE, poolSize: 2 });
    try {
      const key = generateSigningKey('bench.mindweave.local/audit');
      const externalCheckpoint = await fillLog(db, key);
      const expectedCheckpoints = Math.ceil(entryCount / CHECKPOINT_EVERY);
      const entries = await readAll(db);
      const canonical = entries.map((entry) => encodeEntry(entry));
      const averageBytes =
        canonical.reduce((sum, bytes) => sum + bytes.length, 0) / canonical.length;

      // Time windows of the first verifyAuditLog call before and after ANALYZE, for profile-top.ts.
      const profileWindows: Record<string, { startUs: string; endUs: string }> = {};
      let windowName = 'unanalyzed';
      const verifyThroughDatabase = async () => {
        const startUs = process.hrtime.bigint() / 1000n;
        const report = await verifyAuditLog(db, {
          logId: MAIN_LOG,
          verifierKey: key,
          externalCheckpoint,
        });
        const endUs = process.hrtime.bigint() / 1000n;
        profileWindows[windowName] ??= { startUs: String(startUs), endUs: String(endUs) };
        if (!report.ok) throw new Error(`verification failed: ${JSON.stringify(report.fault)}`);
        if (report.checkpointsVerified !== expectedCheckpoints) {
          throw new Error(
            `verified ${report.checkpointsVerified} stored checkpoints, expected ${expectedCheckpoints}`,
          );
        }
        if (report.externalCheckpoint?.matched !== true) {
          throw new Error('the external checkpoint did not match the log');
        }
        return report.entriesVerified;
      };
      const readOnly = async () => {
        let count = 0;
        for await (const _entry of readStoredEntries(db, MAIN_LOG)) count++;
        return count;
      };

      // This server may run without autovacuum, and then the fresh partition has no planner
      // statistics. One pass measures verification in that state before ANALYZE fixes it.
      console.log(`reader plan without statistics: ${await readerPlan(database.url)}`);
      const unanalyzedStart = process.hrtime.bigint();
      const unanalyzedCount = await verifyThroughDatabase();
      const unanalyzedRate = unanalyzedCount / secondsSince(unanalyzedStart);
      console.log(`verifyAuditLog without statistics: ${formatCount(unanalyzedRate)} entries/s`);
      await analyzeAuditLogs(database.url);
      windowName = 'analyzed';
      console.log(`reader plan after ANALYZE: ${await readerPlan(database.url)}`);

      const cases: Case[] = [
        { name: 'verifyAuditLog (PostgreSQL)', run: verifyThroughDatabase },
        { name: 'read entries only (PostgreSQL)', run: readOnly },
        {
          name: 'ChainVerifier, prefetching reader (PostgreSQL)',
          run: () => verifyInMemory(readStoredEntriesPrefetching(db, MAIN_LOG)),
        },
        { name: 'ChainVerifier (in memory)', run: () => verifyInMemory(entries) },
        {
          name: 'encodeEntry only (in memory)',
          run: () => entries.map((entry) => encodeEntry(entry)).length,
        },
        { name: 'SHA-256, entry and leaf digests', run: () => hashEntryAndLeaf(canonical) },
        { name: 'SHA-256, 1 digest', run: () => hashOnce(canonical) },
      ];
      const rates = await measureRounds(cases);

      if (options['profile-window'] !== undefined) {
        // eslint-disable-next-line security/detect-non-literal-fs-filename -- operator-given path
        await writeFile(options['profile-window'], JSON.stringify(profileWindows));
      }
      const medianOf = (name: string) => median(rates.get(name) ?? []);
      const hashRate = medianOf('SHA-256, entry and leaf digests');
      console.log();
      console.log(
        `${formatCount(entryCount)} entries, ${averageBytes.toFixed(0)} canonical bytes on ` +
          `average, median of ${rounds} rounds`,
      );
      printTable(
        ['path', 'entries/s', 'min', 'max', 'entries/min', 'rate / 2-digest SHA-256'],
        cases.map(({ name }) => {
          const list = rates.get(name) ?? [];
          return [
            name,
            formatCount(medianOf(name)),
            formatCount(Math.min(...list)),
            formatCount(Math.max(...list)),
            formatCount(medianOf(name) * 60),
            (medianOf(name) / hashRate).toFixed(3),
          ];
        }),
      );
      console.log(
        `verifyAuditLog before ANALYZE, one pass: ${formatCount(unanalyzedRate)} entries/s, ` +
          `${formatCount(unanalyzedRate * 60)} entries/min`,
      );
      const databaseRate = medianOf('verifyAuditLog (PostgreSQL)');
      const met = databaseRate >= TARGET_PER_SECOND;
      console.log(
        `target 1,000,000 entries/min through verifyAuditLog: ${met ? 'met' : 'missed'} ` +
          `(median ${formatCount(databaseRate * 60)} entries/min)`,
      );
      console.log(
        `load average at the end: ${loadavg()
          .map((load) => load.toFixed(2))
          .join(' ')}`,
      );
    } finally {
      await db.close();
    }
  });
}

await main();
