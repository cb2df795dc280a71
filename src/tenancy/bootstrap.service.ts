import { randomUUID } from 'node:crypto';

import type { Database } from '../data/database/database.js';
import { enterTenant } from '../data/database/tenant-scope.js';
import { AppError } from '../http/errors.js';
import { SYSTEM_ACTOR, SYSTEM_CONTEXT } from '../http/request-context.js';
import { buildAuditRecord } from '../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../monitoring/audit/audit.repository.js';
import { generateApiKey, maskApiKey } from './api-keys/api-key-secret.js';
import { insertApiKey } from './api-keys/api-key.repository.js';
import { insertOrganization } from './organizations/organization.repository.js';
import { insertProject } from './projects/project.repository.js';
import { generatePassword, hashPassword } from './users/password.js';
import {
  adminExists,
  insertMembership,
  insertPreparedUser,
  prepareUser,
} from './users/user.repository.js';

export interface BootstrapInput {
  orgName: string;
  projectSlug: string;
  adminEmail: string;
  adminName: string;
  allowedModels: string[];
}

/** Everything the first run creates; the password and key are shown once and never stored. */
export interface BootstrapResult {
  orgId: string;
  projectId: string;
  adminUserId: string;
  adminEmail: string;
  adminPassword: string;
  apiKey: string;
  apiKeyId: string;
}

/**
 * Creates the first organization, its owner with a one-time password that must be changed at
 * first sign-in, a project and an API key, with their audit entries, in one transaction.
 * Refuses to run once an owner or admin exists, so it cannot be used to take over a server.
 */
export async function bootstrap(db: Database, input: BootstrapInput): Promise<BootstrapResult> {
  const adminPassword = generatePassword();
  const passwordHash = await hashPassword(adminPassword);
  const key = generateApiKey();
  const admin = await prepareUser({ email: input.adminEmail, name: input.adminName });

  return db.transaction(async (tx) => {
    // Without the lock, concurrent runs all find no admin and each creates an owner. The mode
    // conflicts with itself, so a second run waits here and then finds the first one's owner.
    await tx.query('LOCK TABLE memberships IN SHARE ROW EXCLUSIVE MODE');
    if (await adminExists(tx)) {
      throw new AppError('conflict', 'An admin already exists; bootstrap runs only once');
    }
    // The new organization's rows are written inside its own tenant scope.
    const orgId = randomUUID();
    await enterTenant(tx, orgId);
    const org = await insertOrganization(tx, input.orgName, orgId);
    const user = await insertPreparedUser(tx, admin, { passwordHash, mustChangePassword: true });
    await insertMembership(tx, { orgId: org.id, userId: user.id, role: 'owner' });
    const project = await insertProject(tx, {
      orgId: org.id,
      name: input.projectSlug,
      slug: input.projectSlug,
      settings: { allowedModels: input.allowedModels, mcpAutoApprove: false },
    });
    const apiKey = await insertApiKey(tx, {
      orgId: org.id,
      projectId: project.id,
      name: 'bootstrap',
      hash: key.hash,
      prefix: key.prefix,
      lastFour: key.lastFour,
      createdBy: user.id,
      expiresAt: null,
    });

    const audit = (event: Parameters<typeof buildAuditRecord>[2]) =>
      buildAuditRecord(SYSTEM_ACTOR, SYSTEM_CONTEXT, { orgId: org.id, ...event });
    await appendAuditRecords(tx, [
      audit({
        action: 'organization.create',
        resourceType: 'organization',
        resourceId: org.id,
        newValues: { name: org.name },
      }),
      audit({
        action: 'user.create',
        resourceType: 'user',
        resourceId: user.id,
        newValues: { email: user.email, role: 'owner' },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
      audit({
        action: 'project.create',
        projectId: project.id,
        resourceType: 'project',
        resourceId: project.id,
        newValues: { name: project.name, slug: project.slug, settings: project.settings },
      }),
      audit({
        action: 'api_key.created',
        projectId: project.id,
        resourceType: 'api_key',
        resourceId: apiKey.id,
        newValues: { name: apiKey.name, key: maskApiKey(key.prefix, key.lastFour) },
        sensitivity: 'sensitive',
      }),
    ]);

    return {
      orgId: org.id,
      projectId: project.id,
      adminUserId: user.id,
      adminEmail: user.email,
      adminPassword,
      apiKey: key.secret,
      apiKeyId: apiKey.id,
    };
  });
}
