/** Public API of the data-protection crypto core. */
export { BLIND_INDEX_LENGTH, BlindIndexer, computeBlindIndex, normalizeForBlindIndex } from './blind-index.js';
export type { BlindIndexColumn, BlindIndexNormalization } from './blind-index.js';
export { CIPHERTEXT_PREFIX, formatCiphertext, parseCiphertext } from './ciphertext-format.js';
export type { ParsedCiphertext } from './ciphertext-format.js';
export { DEFAULT_MAX_ENCRYPTIONS_PER_VERSION } from './encryption-budget.js';
export type { EncryptionLimitOptions, RotationNotice } from './encryption-budget.js';
export {
  CryptoParameterError,
  DecryptionError,
  KeyNotFoundError,
  KeyStateError,
  KeyUsageLimitError,
} from './errors.js';
export { FieldCipher } from './field-cipher.js';
export type { FieldOperationOptions } from './field-cipher.js';
export type { FieldContext, FieldLocation } from './field-context.js';
export { FieldCryptoCounters } from './field-counters.js';
export type { FieldCryptoCounts } from './field-counters.js';
export { InMemoryKeyStore } from './in-memory-key-store.js';
export { KeyHierarchy } from './key-hierarchy.js';
export type { DeletionOptions, KeyHierarchyOptions } from './key-hierarchy.js';
export { DEFAULT_DELETION_WAITING_DAYS, MIN_DELETION_WAITING_DAYS } from './key-lifecycle.js';
export type { KeyStore } from './key-store.js';
export { PURPOSE_KEY_NAMES } from './key-types.js';
export type {
  Clock,
  KeyOwner,
  KeyParent,
  KeyPurpose,
  KeyRecord,
  KeyState,
  KeyVersionRef,
  PurposeKeyName,
} from './key-types.js';
export { MemoryKeyUsageSink } from './key-usage-log.js';
export type { KeyOperation, KeyUsageRecord, KeyUsageSink } from './key-usage-log.js';
