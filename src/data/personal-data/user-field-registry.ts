import type { UserFieldProtection } from './user-field-protection.js';

// Installed by each running server, latest last. The user repository is called from many
// services that only have a database connection, so they find the protection here.
const installed: UserFieldProtection[] = [];

/**
 * Makes `protection` the one the user repository uses, until it is uninstalled.
 *
 * NOTE: the registry is process-wide. Two servers in one process on different databases (only
 * tests start those) would encrypt with the key store of the latest one.
 */
export function installUserFieldProtection(protection: UserFieldProtection): void {
  installed.push(protection);
}

/** Removes `protection`; an earlier installed one, if any, is used again. */
export function uninstallUserFieldProtection(protection: UserFieldProtection): void {
  const index = installed.lastIndexOf(protection);
  if (index >= 0) installed.splice(index, 1);
}

/**
 * Returns the installed protection, or null in a process without the key hierarchy, such as the
 * first-run bootstrap command.
 */
export function currentUserFieldProtection(): UserFieldProtection | null {
  return installed.at(-1) ?? null;
}

/**
 * Returns the installed protection.
 *
 * @throws Error when none is installed, so no secret is ever written unencrypted.
 */
export function requireUserFieldProtection(): UserFieldProtection {
  const protection = currentUserFieldProtection();
  if (protection === null) {
    throw new Error('user field encryption is not configured: the key hierarchy is not open');
  }
  return protection;
}
