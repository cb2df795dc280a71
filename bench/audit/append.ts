/**
 * Measures audit log append throughput on the real PostgreSQL server, in entries per second,
 * for 1 and 4 writer processes and transactions of 1 and 100 entries. In the same run, the same
 * writers insert the same column values into an unchained copy of `audit_logs` with no
 * triggers, no head lock and no hashing, which is the baseline for the ratio.
 *
 * Run with `npx tsx bench/audit/append.ts [--duration-ms 5000] [--max-entries 2000000]`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';

import pg from 'pg';

import { APPLICATION_ROLE } from '../../src/data/database/open-database.js';
import { openPostgresDatabase } from '../../src/data/database/postgres-database.js';
import { verifyAuditLog } from '../../src/monitoring/audit/audit-verify.service.js';
import { MAIN_LOG } from '../../src/monitoring/audit/audit.repository.js';
import { generateSigningKey } from '../../src/monitoring/audit/signing-key.js';
import { describeEnvironment, withBenchDatabase } from './bench-database.js';
import { PLAIN_TABLE, type WorkerConfig, type WorkerMessage } from './append-protocol.js';
import { formatCount, printTable } from './report.js';

const WORKER_PATH = fileURLToPath(new URL('./append-worker.ts', import.meta.url));
/** Extra time a worker gets for setup and its last transaction before the run is aborted. */
const WORKER_GRACE_MS = 60_000;

const { values: options } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '5000' },
    'max-entries': { type: 'string', default: '2000000' },
  },
});
const durationMs = Number(options['duration-ms']);
const maxEntries = Number(options['max-entries']);
if (!Number.isInteger(durationMs) || durationMs < 100 || durationMs > 600_000) {
  throw new RangeError(`--duration-ms must be an integer from 100 to 600000, got ${durationMs}`);
}
if (!Number.isInteger(maxEntries) || maxEntries < 100) {
  throw new RangeError(`--max-entries must be an integer of at least 100, got ${maxEntries}`);
}

interface Scenario {
  writers: number;
  batchSize: number;
  mode: WorkerConfig['mode'];
}

interface ScenarioResult {
  entries: number;
  transactions: number;
  seconds: number;
}

/** Creates the baseline table: the columns, defaults, checks and indexes of `audit_logs`. */
async function createPlainTable(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `CREATE TABLE ${PLAIN_TABLE} (LIKE audit_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS
         INCLUDING INDEXES)`,
    );
    await client.query(`GRANT SELECT, INSERT ON ${PLAIN_TABLE} TO ${APPLICATION_ROLE}`);
  } finally {
    await client.end();
  }
}

/** Waits for the next message of one worker, failing on an error report, exit or timeout. */
function nextMessage(child: ChildProcess, timeoutMs: number): Promise<WorkerMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`append worker ${child.pid} sent nothing for ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: WorkerMessage) => {
      cleanup();
      if (message.type === 'error') reject(new Error(`append worker failed: ${message.message}`));
      else resolve(message);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`append worker ${child.pid} exited with code ${code} before reporting`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

async function runScenario(url: string, scenario: Scenario, runIndex: number) {
  const children = Array.from({ length: scenario.writers }, (_, writer) => {
    const config: WorkerConfig = {
      url,
      mode: scenario.mode,
      batchSize: scenario.batchSize,
      seqBase: (runIndex * 16 + writer) * 10_000_000_000 + 1,
      durationMs,
      maxEntries,
    };
    return fork(WORKER_PATH, [JSON.stringify(config)], { execArgv: ['--import', 'tsx'] });
  });
  try {
    await Promise.all(children.map((child) => nextMessage(child, WORKER_GRACE_MS)));
    const done = children.map((child) => nextMessage(child, durationMs + WORKER_GRACE_MS));
    const start = process.hrtime.bigint();
    for (const child of children) child.send({ type: 'start' });
    const reports = await Promise.all(done);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const result: ScenarioResult = { entries: 0, transactions: 0, seconds };
    for (const report of reports) {
      if (report.type !== 'done') throw new Error(`unexpected worker message ${report.type}`);
      result.entries += report.entries;
      result.transactions += report.transactions;
    }
    return result;
  } finally {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    }
  }
}

/** Verifies the log the chained writers built, so a broken chain cannot pass as a fast one. */
async function checkChainedLog(url: string): Promise<void> {
  const db = await openPostgresDatabase(url, { role: APPLICATION_ROLE, poolSize: 1 });
  try {
    const report = await verifyAuditLog(db, {
      logId: MAIN_LOG,
      verifierKey: generateSigningKey('bench.mindweave.local/audit'),
    });
    if (!report.ok) {
      throw new Error(`chained log failed verification: ${JSON.stringify(report.fault)}`);
    }
    console.log(`chained log verified: ${formatCount(report.entriesVerified)} entries, no fault`);
  } finally {
    await db.close();
  }
}

async function main(): Promise<void> {
  await withBenchDatabase(async (database) => {
    await createPlainTable(database.url);
    const environment = await describeEnvironment(database.url);
    console.log(`database ${database.name}`);
    for (const [name, value] of Object.entries(environment)) console.log(`${name}: ${value}`);
    console.log(`duration per scenario: ${durationMs} ms, max entries per writer: ${maxEntries}`);

    const rows: string[][] = [];
    let runIndex = 0;
    for (const writers of [1, 4]) {
      for (const batchSize of [1, 100]) {
        // Each baseline runs right before its chained scenario, so both see similar machine load.
        const plain = await runScenario(
          database.url,
          { writers, batchSize, mode: 'plain' },
          runIndex++,
        );
        const chained = await runScenario(
          database.url,
          { writers, batchSize, mode: 'chained' },
          runIndex++,
        );
        const plainRate = plain.entries / plain.seconds;
        const chainedRate = chained.entries / chained.seconds;
        rows.push([
          String(writers),
          String(batchSize),
          formatCount(chainedRate),
          formatCount(plainRate),
          `${(chainedRate / plainRate).toFixed(2)}`,
          formatCount(chained.entries),
          formatCount(plain.entries),
        ]);
        console.log(
          `writers=${writers} batch=${batchSize}: chained ${formatCount(chainedRate)}/s, ` +
            `plain ${formatCount(plainRate)}/s`,
        );
      }
    }
    console.log();
    printTable(
      [
        'writers',
        'entries/tx',
        'chained entries/s',
        'plain entries/s',
        'chained/plain',
        'chained entries',
        'plain entries',
      ],
      rows,
    );
    console.log(
      `load average at the end: ${loadavg()
        .map((load) => load.toFixed(2))
        .join(' ')}`,
    );
    await checkChainedLog(database.url);
  });
}

await main();
