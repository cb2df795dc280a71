import { join } from 'node:path';

import type { Config } from '../../config/config.schema.js';
import { loadOrCreateSigningKey, type AuditSigningKey } from './signing-key.js';

/** The folder of the checkpoint signing key: kept apart from the database files. */
export function signingKeyDir(
  config: Pick<Config, 'AUDIT_SIGNING_KEY_DIR' | 'MINDWEAVE_DATA_DIR'>,
) {
  return config.AUDIT_SIGNING_KEY_DIR ?? join(config.MINDWEAVE_DATA_DIR, 'audit-keys');
}

/** Loads the checkpoint signing key, creating it on first use; its name is the log's origin. */
export function loadAuditSigningKey(
  config: Pick<Config, 'AUDIT_SIGNING_KEY_DIR' | 'MINDWEAVE_DATA_DIR' | 'AUDIT_LOG_NAME'>,
): Promise<AuditSigningKey> {
  return loadOrCreateSigningKey(signingKeyDir(config), config.AUDIT_LOG_NAME);
}
