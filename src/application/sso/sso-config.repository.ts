import type { Queryable } from '../../data/database/database.js';
import type { OrgRole } from '../../tenancy/users/user.schema.js';
import type { RoleMapping } from './sso-role-mapping.js';

/** An organization's identity provider settings, with the encrypted client secret. */
export interface SsoConfigRow {
  id: string;
  orgId: string;
  slug: string;
  issuer: string;
  clientId: string;
  clientSecretEncrypted: string;
  scopes: string[];
  allowedEmailDomains: string[];
  groupsClaim: string;
  roleMappings: RoleMapping[];
  defaultRole: OrgRole | null;
  maxRole: OrgRole;
  jitProvisioning: boolean;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = `id, org_id AS "orgId", slug, issuer, client_id AS "clientId",
  client_secret_encrypted AS "clientSecretEncrypted", scopes,
  allowed_email_domains AS "allowedEmailDomains", groups_claim AS "groupsClaim",
  role_mappings AS "roleMappings", default_role AS "defaultRole", max_role AS "maxRole",
  jit_provisioning AS "jitProvisioning", created_at AS "createdAt", updated_at AS "updatedAt"`;

/** Reads the organization's configuration; run inside `inTenant` for that organization. */
export async function findSsoConfig(tx: Queryable, orgId: string): Promise<SsoConfigRow | null> {
  const result = await tx.query<SsoConfigRow>(
    `SELECT ${COLUMNS} FROM organization_sso_configs WHERE org_id = $1`,
    [orgId],
  );
  return result.rows[0] ?? null;
}

/**
 * Returns the organization whose SSO configuration has `slug`. It runs before any tenant is
 * known, so it goes through a database function that returns the organization id only.
 */
export async function findOrgIdBySlug(db: Queryable, slug: string): Promise<string | null> {
  const result = await db.query<{ orgId: string | null }>(
    'SELECT sso_org_id_for_slug($1) AS "orgId"',
    [slug],
  );
  return result.rows[0]?.orgId ?? null;
}

/**
 * Inserts the configuration, or replaces the existing row of the organization when it has the
 * same id. Returns null when the organization's row has another id (a concurrent first write),
 * because the secret's ciphertext is bound to the row id.
 */
export async function upsertSsoConfig(
  tx: Queryable,
  row: Omit<SsoConfigRow, 'createdAt' | 'updatedAt'> & { updatedBy: string },
): Promise<(SsoConfigRow & { created: boolean }) | null> {
  const result = await tx.query<SsoConfigRow & { created: boolean }>(
    `INSERT INTO organization_sso_configs
       (id, org_id, slug, issuer, client_id, client_secret_encrypted, scopes,
        allowed_email_domains, groups_claim, role_mappings, default_role, max_role,
        jit_provisioning, updated_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (org_id) DO UPDATE
        SET slug = EXCLUDED.slug, issuer = EXCLUDED.issuer, client_id = EXCLUDED.client_id,
            client_secret_encrypted = EXCLUDED.client_secret_encrypted,
            scopes = EXCLUDED.scopes, allowed_email_domains = EXCLUDED.allowed_email_domains,
            groups_claim = EXCLUDED.groups_claim, role_mappings = EXCLUDED.role_mappings,
            default_role = EXCLUDED.default_role, max_role = EXCLUDED.max_role,
            jit_provisioning = EXCLUDED.jit_provisioning, updated_by = EXCLUDED.updated_by,
            updated_at = now()
      WHERE organization_sso_configs.id = EXCLUDED.id
     RETURNING ${COLUMNS}, (xmax = 0) AS created`,
    [
      row.id,
      row.orgId,
      row.slug,
      row.issuer,
      row.clientId,
      row.clientSecretEncrypted,
      row.scopes,
      row.allowedEmailDomains,
      row.groupsClaim,
      JSON.stringify(row.roleMappings),
      row.defaultRole,
      row.maxRole,
      row.jitProvisioning,
      row.updatedBy,
    ],
  );
  return result.rows[0] ?? null;
}

export async function deleteSsoConfig(tx: Queryable, orgId: string): Promise<SsoConfigRow | null> {
  await tx.query('DELETE FROM sso_login_states WHERE org_id = $1', [orgId]);
  const result = await tx.query<SsoConfigRow>(
    `DELETE FROM organization_sso_configs WHERE org_id = $1 RETURNING ${COLUMNS}`,
    [orgId],
  );
  return result.rows[0] ?? null;
}
