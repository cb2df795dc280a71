import { randomUUID } from 'node:crypto';

import { KeyStateError } from '../../data/crypto/errors.js';
import type { FieldCipher } from '../../data/crypto/field-cipher.js';
import type { FieldLocation } from '../../data/crypto/field-context.js';
import type { Database } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { AppError } from '../../http/errors.js';
import type { Actor, RequestContext } from '../../http/request-context.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import type { OrgRole } from '../../tenancy/users/user.schema.js';
import type { PutSsoConfigInput } from './sso.schema.js';
import {
  deleteSsoConfig,
  findSsoConfig,
  upsertSsoConfig,
  type SsoConfigRow,
} from './sso-config.repository.js';
import { roleWithin } from './sso-role-mapping.js';

const SSO_TABLE = 'organization_sso_configs';
const SECRET_COLUMN = 'client_secret_encrypted';
const UNIQUE_VIOLATION = '23505';

/** The admin who changes a configuration, in the organization of the change. */
export interface SsoConfigScope {
  actor: Actor & { type: 'user' };
  context: RequestContext;
  orgId: string;
  /** The admin's own role in the organization: the ceiling of every mapped role. */
  role: OrgRole;
}

/** A configuration as the API returns it: the client secret never leaves the server. */
export interface SsoConfigView {
  slug: string;
  issuer: string;
  clientId: string;
  clientSecretSet: true;
  scopes: string[];
  allowedEmailDomains: string[];
  groupsClaim: string;
  roleMappings: { group: string; role: OrgRole }[];
  defaultRole: OrgRole | null;
  maxRole: OrgRole;
  jitProvisioning: boolean;
  loginUrl: string;
  redirectUri: string;
  createdAt: string;
  updatedAt: string;
}

/** Returns where the client secret of a configuration row is stored, bound into its AAD. */
export function ssoSecretLocation(orgId: string, rowId: string): FieldLocation {
  return { tenant: orgId, table: SSO_TABLE, column: SECRET_COLUMN, rowId };
}

/** Returns the paths of an organization's sign-in URLs below the public base URL. */
export function ssoPaths(slug: string): { start: string; callback: string } {
  return {
    start: `/api/v1/auth/sso/${slug}/start`,
    callback: `/api/v1/auth/sso/${slug}/callback`,
  };
}

function actorName(actor: Actor): string {
  return actor.type === 'system' ? 'system' : `${actor.type}:${actor.id}`;
}

/** Returns the configuration fields that audit entries show: everything but the secret. */
function auditValues(row: Pick<SsoConfigRow, 'slug' | 'issuer' | 'clientId'> & PutLike) {
  return {
    slug: row.slug,
    issuer: row.issuer,
    clientId: row.clientId,
    scopes: row.scopes,
    allowedEmailDomains: row.allowedEmailDomains,
    groupsClaim: row.groupsClaim,
    roleMappings: row.roleMappings,
    defaultRole: row.defaultRole,
    jitProvisioning: row.jitProvisioning,
  };
}
type PutLike = Pick<
  SsoConfigRow,
  | 'scopes'
  | 'allowedEmailDomains'
  | 'groupsClaim'
  | 'roleMappings'
  | 'defaultRole'
  | 'jitProvisioning'
>;

/**
 * Checks that no role the configuration can grant is above the configuring admin's own role.
 *
 * @throws AppError `forbidden` naming the first mapping (or the default role) that is.
 */
function assertRolesWithin(input: PutSsoConfigInput, ceiling: OrgRole): void {
  input.roleMappings.forEach((mapping, index) => {
    if (!roleWithin(mapping.role, ceiling)) {
      throw new AppError('forbidden', 'A role mapping grants more than your own role', [
        {
          field: `roleMappings.${index}.role`,
          message: `Role ${mapping.role} is above your role ${ceiling}`,
        },
      ]);
    }
  });
  if (input.defaultRole && !roleWithin(input.defaultRole, ceiling)) {
    throw new AppError('forbidden', 'The default role grants more than your own role', [
      { field: 'defaultRole', message: `Role ${input.defaultRole} is above your role ${ceiling}` },
    ]);
  }
}

/** Stores, reads and deletes each organization's OpenID Connect provider settings. */
export class SsoConfigService {
  constructor(
    private readonly db: Database,
    private readonly cipher: FieldCipher,
    /** Public base URL of MindWeave, which the sign-in and callback URLs start with. */
    readonly publicBaseUrl: string,
  ) {}

  view(row: SsoConfigRow): SsoConfigView {
    const paths = ssoPaths(row.slug);
    return {
      slug: row.slug,
      issuer: row.issuer,
      clientId: row.clientId,
      clientSecretSet: true,
      scopes: row.scopes,
      allowedEmailDomains: row.allowedEmailDomains,
      groupsClaim: row.groupsClaim,
      roleMappings: row.roleMappings,
      defaultRole: row.defaultRole,
      maxRole: row.maxRole,
      jitProvisioning: row.jitProvisioning,
      loginUrl: `${this.publicBaseUrl}${paths.start}`,
      redirectUri: `${this.publicBaseUrl}${paths.callback}`,
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
    };
  }

  async get(orgId: string): Promise<SsoConfigView> {
    const row = await inTenant(this.db, orgId, (tx) => findSsoConfig(tx, orgId));
    if (!row) throw new AppError('not_found', 'No single sign-on is configured');
    return this.view(row);
  }

  /**
   * Validates the role ceiling, encrypts the client secret under the organization's data key
   * and stores the configuration with an audit entry that never contains the secret.
   */
  async put(
    scope: SsoConfigScope,
    input: PutSsoConfigInput,
  ): Promise<{ config: SsoConfigView; created: boolean }> {
    assertRolesWithin(input, scope.role);
    const existing = await inTenant(this.db, scope.orgId, (tx) => findSsoConfig(tx, scope.orgId));
    if (!existing && input.clientSecret === undefined) {
      throw new AppError('validation_failed', undefined, [
        { field: 'clientSecret', message: 'Client secret is required for a new configuration' },
      ]);
    }
    const rowId = existing?.id ?? randomUUID();
    // Encryption runs before the transaction: it may create the organization's data key.
    const clientSecretEncrypted =
      input.clientSecret === undefined
        ? (existing as SsoConfigRow).clientSecretEncrypted
        : await this.cipher
            .encrypt(ssoSecretLocation(scope.orgId, rowId), input.clientSecret, {
              actor: actorName(scope.actor),
            })
            .catch((error: unknown) => {
              if (!(error instanceof KeyStateError)) throw error;
              throw new AppError(
                'conflict',
                "This organization's data key is scheduled for deletion, so no client secret " +
                  'can be stored; ask the operator to cancel the deletion first',
              );
            });

    let stored;
    try {
      stored = await inTenant(this.db, scope.orgId, async (tx) => {
        const row = await upsertSsoConfig(tx, {
          id: rowId,
          orgId: scope.orgId,
          slug: input.slug,
          issuer: input.issuer,
          clientId: input.clientId,
          clientSecretEncrypted,
          scopes: input.scopes,
          allowedEmailDomains: input.allowedEmailDomains,
          groupsClaim: input.groupsClaim,
          roleMappings: input.roleMappings,
          defaultRole: input.defaultRole,
          maxRole: scope.role,
          jitProvisioning: input.jitProvisioning,
          updatedBy: scope.actor.id,
        });
        if (!row) throw new AppError('conflict', 'The configuration changed meanwhile; try again');
        await appendAuditRecords(tx, [
          buildAuditRecord(scope.actor, scope.context, {
            action: row.created ? 'sso_config.created' : 'sso_config.updated',
            orgId: scope.orgId,
            resourceType: 'sso_config',
            resourceId: row.id,
            oldValues: existing ? auditValues(existing) : null,
            newValues: {
              ...auditValues(row),
              clientSecretChanged: input.clientSecret !== undefined,
            },
            sensitivity: 'critical',
          }),
        ]);
        return row;
      });
    } catch (error) {
      if ((error as { code?: unknown }).code === UNIQUE_VIOLATION) {
        throw new AppError('conflict', 'The slug is used by another organization', [
          { field: 'slug', message: 'Slug is already taken; choose another' },
        ]);
      }
      throw error;
    }
    return { config: this.view(stored), created: stored.created };
  }

  async delete(scope: SsoConfigScope): Promise<void> {
    await inTenant(this.db, scope.orgId, async (tx) => {
      const row = await deleteSsoConfig(tx, scope.orgId);
      if (!row) throw new AppError('not_found', 'No single sign-on is configured');
      await appendAuditRecords(tx, [
        buildAuditRecord(scope.actor, scope.context, {
          action: 'sso_config.deleted',
          orgId: scope.orgId,
          resourceType: 'sso_config',
          resourceId: row.id,
          oldValues: auditValues(row),
          sensitivity: 'critical',
        }),
      ]);
    });
  }

  /** Decrypts the client secret of a stored configuration, for the token request. */
  async clientSecret(row: SsoConfigRow): Promise<string> {
    return this.cipher.decryptString(
      ssoSecretLocation(row.orgId, row.id),
      row.clientSecretEncrypted,
      { actor: 'sso' },
    );
  }
}
