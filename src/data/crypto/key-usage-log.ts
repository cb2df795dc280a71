import type { EncryptionContext } from '../kms/kms-provider.js';
import type { KeyPurpose } from './key-types.js';

/** Key operation recorded in the key usage log. */
export type KeyOperation =
  | 'generate'
  | 'wrap'
  | 'unwrap'
  | 'rotate'
  | 'schedule_deletion'
  | 'cancel_deletion'
  | 'destroy';

/** One entry of the key usage log. It never contains key material. */
export interface KeyUsageRecord {
  time: Date;
  operation: KeyOperation;
  keyId: string;
  version: number;
  purpose: KeyPurpose;
  /** Organization that owns the key, or undefined for system purpose keys. */
  tenant: string | undefined;
  /** User or component that caused the operation. */
  actor: string;
  /** Context bound into the wrap or unwrap, or the key's identity for other operations. */
  encryptionContext: EncryptionContext;
  outcome: 'success' | 'failure';
  /** Error name when `outcome` is failure. */
  errorName?: string;
}

/**
 * Destination of key usage records. A database-backed sink will come later. If `write` rejects,
 * the key operation that produced the record fails too, so no key is used without a record.
 */
export interface KeyUsageSink {
  write(record: KeyUsageRecord): Promise<void>;
}

/** {@link KeyUsageSink} that keeps records in an array, for tests. */
export class MemoryKeyUsageSink implements KeyUsageSink {
  readonly records: KeyUsageRecord[] = [];

  write(record: KeyUsageRecord): Promise<void> {
    this.records.push(record);
    return Promise.resolve();
  }
}
