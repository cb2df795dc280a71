/** Database-backed key storage and key usage log for the key hierarchy. */
export { DatabaseKeyStore } from './database-key-store.js';
export type { StoredKeyVersion } from './database-key-store.js';
export { DatabaseKeyUsageSink, listKeyUsage } from './database-key-usage-sink.js';
export type { StoredKeyUsageRecord } from './database-key-usage-sink.js';
