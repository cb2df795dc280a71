import type { EncryptionContext } from '../kms/kms-provider.js';
import type { Clock, KeyRecord } from './key-types.js';
import { ownerTenant } from './key-types.js';
import type { KeyOperation, KeyUsageSink } from './key-usage-log.js';

/** Returns the encryption context passed to the KMS for a purpose key version. */
export function kmsContext(record: Pick<KeyRecord, 'keyId' | 'purpose' | 'version'>): EncryptionContext {
  return { keyId: record.keyId, purpose: record.purpose, version: String(record.version) };
}

/** Returns the identity of a key version, with its owner and parent, as a usage log context. */
export function identityContext(record: KeyRecord): EncryptionContext {
  const context: Record<string, string> = { ...kmsContext(record), owner: record.owner.kind };
  if (record.owner.kind !== 'system') {
    context.tenant = record.owner.tenant;
  }
  if (record.owner.kind === 'subject') {
    context.subject = record.owner.subject;
  }
  if (record.parent.kind === 'key') {
    context.parentKeyId = record.parent.keyId;
    context.parentVersion = String(record.parent.version);
  } else {
    context.masterKeyId = record.parent.masterKeyId;
  }
  return context;
}

/** Writes key usage records for key versions, stamped with the time from a clock. */
export class KeyUsageLogger {
  readonly #sink: KeyUsageSink;
  readonly #clock: Clock;

  constructor(sink: KeyUsageSink, clock: Clock) {
    this.#sink = sink;
    this.#clock = clock;
  }

  /** Writes one record. Passing `error` records a failure with the error's name. */
  async write(
    operation: KeyOperation,
    record: KeyRecord,
    actor: string,
    encryptionContext: EncryptionContext,
    error?: unknown,
  ): Promise<void> {
    await this.#sink.write({
      time: this.#clock(),
      operation,
      keyId: record.keyId,
      version: record.version,
      purpose: record.purpose,
      tenant: ownerTenant(record.owner),
      actor,
      encryptionContext,
      outcome: error === undefined ? 'success' : 'failure',
      ...(error === undefined ? {} : { errorName: error instanceof Error ? error.name : 'unknown' }),
    });
  }
}
