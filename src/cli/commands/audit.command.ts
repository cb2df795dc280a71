import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { Command } from 'commander';

import { loadConfig } from '../../config/load-config.js';
import { MAIN_LOG } from '../../monitoring/audit/audit.repository.js';
import { AuditCheckpointer } from '../../monitoring/audit/audit-checkpointer.js';
import { loadAuditSigningKey, signingKeyDir } from '../../monitoring/audit/audit-signing.js';
import { verifyAuditLog, type VerifyReport } from '../../monitoring/audit/audit-verify.service.js';
import {
  consistencyProofBetween,
  inclusionProofFor,
} from '../../monitoring/audit/audit-proof.service.js';
import { latestCheckpoint } from '../../monitoring/audit/checkpoint.repository.js';
import {
  DEFAULT_RETENTION_DAYS,
  retainAuditLog,
} from '../../monitoring/audit/audit-retention.service.js';
import {
  parseVerifierKey,
  publicKeyPem,
  SIGNING_KEY_FILE,
  verifierKeyString,
  type NoteVerifierKey,
} from '../../monitoring/audit/signing-key.js';
import {
  cliLogger,
  printJson,
  UsageError,
  withDatabase,
  withOwnerDatabase,
} from '../cli-context.js';

async function verifierKey(option: string | undefined): Promise<NoteVerifierKey> {
  if (option) {
    const parsed = parseVerifierKey(option);
    if (!parsed.ok)
      throw new UsageError(`--public-key is not a valid verifier key: ${parsed.reason}`);
    return parsed.key;
  }
  const config = loadConfig(process.env);
  // Loading would create a new key when none exists, and every checkpoint would then look forged.
  const keyFile = join(signingKeyDir(config), SIGNING_KEY_FILE);
  if (!existsSync(keyFile)) {
    throw new UsageError(
      `no audit signing key at ${keyFile}: pass the log's key with --public-key, or set ` +
        'AUDIT_SIGNING_KEY_DIR to the folder that holds it',
    );
  }
  const key = await loadAuditSigningKey(config);
  return { name: key.name, keyId: key.keyId, publicKeyRaw: key.publicKeyRaw };
}

function positiveInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,14}$/.test(value)) {
    throw new UsageError(`${name} must be a positive integer of at most 15 digits`);
  }
  return Number(value);
}

function printReport(report: VerifyReport): void {
  if (report.ok) {
    const external = report.externalCheckpoint
      ? `; external checkpoint of size ${report.externalCheckpoint.treeSize} matched`
      : '';
    process.stdout.write(
      `audit log ${report.logId} verified: ${report.entriesVerified} entries, ` +
        `${report.checkpointsVerified} signed checkpoints${external}\nroot ${report.rootHash}\n`,
    );
    return;
  }
  const fault = report.fault;
  process.stdout.write(
    `audit log ${report.logId} FAILED verification after ${report.entriesVerified} good entries\n` +
      `first bad sequence number: ${fault?.seq}\nfault: ${fault?.kind}\ndetail: ${fault?.detail}\n`,
  );
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('verify the audit log and export its proofs');

  audit
    .command('verify')
    .description('recompute every entry hash, chain link, Merkle root and checkpoint signature')
    .option('--from-checkpoint <file>', 'a signed checkpoint kept outside the database')
    .option('--public-key <key>', 'verifier key (default: from the local signing key file)')
    .option('--json', 'print the report as one JSON object', false)
    .action(async (options: { fromCheckpoint?: string; publicKey?: string; json: boolean }) => {
      const key = await verifierKey(options.publicKey);
      const external = options.fromCheckpoint
        ? await readFile(options.fromCheckpoint, 'utf8')
        : undefined;
      const report = await withDatabase('mindweave audit verify', (db) =>
        verifyAuditLog(db, {
          logId: MAIN_LOG,
          verifierKey: key,
          externalCheckpoint: external,
          onProgress: (verified, total) =>
            process.stderr.write(`verified ${verified} of ${total} entries\n`),
        }),
      );
      if (options.json) printJson(report);
      else printReport(report);
      process.exitCode = report.ok ? 0 : 1;
    });

  audit
    .command('public-key')
    .description('print the checkpoint verifier key (signed-note format) and the PEM public key')
    .option('--pem', 'print only the PEM public key', false)
    .action(async (options: { pem: boolean }) => {
      const key = await loadAuditSigningKey(loadConfig(process.env));
      if (options.pem) process.stdout.write(publicKeyPem(key));
      else process.stdout.write(`${verifierKeyString(key)}\n`);
    });

  audit
    .command('checkpoint')
    .description('sign a checkpoint of the log as it is now and print it, to keep elsewhere')
    .action(async () => {
      const config = loadConfig(process.env);
      const key = await loadAuditSigningKey(config);
      const checkpoint = await withDatabase('mindweave audit checkpoint', async (db) => {
        const checkpointer = new AuditCheckpointer(db, key, {
          logId: MAIN_LOG,
          everyEntries: config.AUDIT_CHECKPOINT_ENTRIES,
          intervalMs: config.AUDIT_CHECKPOINT_INTERVAL_MS,
          logger: cliLogger(config),
        });
        await checkpointer.sign();
        return latestCheckpoint(db, MAIN_LOG);
      });
      if (!checkpoint) throw new UsageError('no checkpoint could be signed');
      process.stdout.write(checkpoint.signedNote);
    });

  audit
    .command('retain')
    .description('drop monthly partitions older than the retention period, after sealing them')
    .option('--days <n>', 'retention period in days', String(DEFAULT_RETENTION_DAYS))
    .option('--dry-run', 'list what would be dropped, and verify it, without dropping', false)
    .option('--json', 'print one JSON object', false)
    .action(async (options: { days: string; dryRun: boolean; json: boolean }) => {
      const days = positiveInteger('--days', options.days) as number;
      const key = await loadAuditSigningKey(loadConfig(process.env));
      const dropped = await withOwnerDatabase('mindweave audit retain', (db) =>
        retainAuditLog(db, key, { logId: MAIN_LOG, retentionDays: days, dryRun: options.dryRun }),
      );
      if (options.json) return printJson({ dryRun: options.dryRun, partitions: dropped });
      const verb = options.dryRun ? 'would drop' : 'dropped';
      for (const item of dropped) {
        process.stdout.write(
          `${verb} ${item.partition}: seq ${item.firstSeq}..${item.lastSeq} (${item.entries} entries)\n`,
        );
      }
      if (dropped.length === 0) process.stdout.write(`no partition is older than ${days} days\n`);
    });

  const proof = audit.command('proof').description('Merkle proofs (RFC 6962)');
  proof
    .command('inclusion')
    .description('inclusion proof of one entry in a signed checkpoint')
    .requiredOption('--seq <n>', 'sequence number of the entry')
    .option('--tree-size <n>', 'checkpoint size (default: the latest checkpoint)')
    .action(async (options: { seq: string; treeSize?: string }) => {
      const seq = positiveInteger('--seq', options.seq) as number;
      const treeSize = positiveInteger('--tree-size', options.treeSize);
      printJson(
        await withDatabase('mindweave audit proof', (db) =>
          inclusionProofFor(db, MAIN_LOG, seq, treeSize),
        ),
      );
    });
  proof
    .command('consistency')
    .description('consistency proof between two signed checkpoints')
    .requiredOption('--from <size>', 'older tree size')
    .requiredOption('--to <size>', 'newer tree size')
    .action(async (options: { from: string; to: string }) => {
      const from = positiveInteger('--from', options.from) as number;
      const to = positiveInteger('--to', options.to) as number;
      printJson(
        await withDatabase('mindweave audit proof', (db) =>
          consistencyProofBetween(db, MAIN_LOG, from, to),
        ),
      );
    });
}
