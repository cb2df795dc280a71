import type { Logger } from 'pino';

import type { Database } from '../database/database.js';
import type { DataProtection } from '../key-store/data-protection.js';
import { migratePlaintextPersonalData } from './plaintext-migration.js';
import type { LegacyTotpOpener } from './totp-secret-cipher.js';
import { UserFieldProtection } from './user-field-protection.js';
import { installUserFieldProtection } from './user-field-registry.js';

/**
 * Encrypts any plaintext user fields and older TOTP secrets, moves invitation email indexes to
 * their organization's key, then installs the protection the user repository uses. The server
 * calls it before it listens, so no request reads plaintext.
 *
 * @throws Error when plaintext is left after the migration, so the server does not start.
 */
export async function startUserFieldProtection(
  db: Database,
  dataProtection: DataProtection,
  logger: Logger,
  legacyTotp: () => Promise<LegacyTotpOpener>,
): Promise<UserFieldProtection> {
  const protection = new UserFieldProtection(
    dataProtection.fieldCipher,
    dataProtection.hierarchy,
    logger,
  );
  const migrated = await migratePlaintextPersonalData(db, protection, { legacyTotp, logger });
  const changed =
    migrated.users + migrated.invitations + migrated.totpSecrets + (migrated.invitationIndexes ?? 0);
  if (changed > 0) {
    logger.info(migrated, 'encrypted personal data written without the key hierarchy');
  }
  installUserFieldProtection(protection);
  return protection;
}
