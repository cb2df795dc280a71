import type { Command } from 'commander';
import { z } from 'zod';

import type { Database } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { AppError } from '../../http/errors.js';
import { SYSTEM_ACTOR, SYSTEM_CONTEXT } from '../../http/request-context.js';
import { parseOrThrow } from '../../http/validation.js';
import { listApiKeys } from '../../tenancy/api-keys/api-key.repository.js';
import { createApiKeySchema } from '../../tenancy/api-keys/api-key.schema.js';
import { createApiKey, revokeKey } from '../../tenancy/api-keys/api-key.service.js';
import { apiKeyView } from '../../tenancy/api-keys/api-key.view.js';
import { findApiKey } from '../../tenancy/api-keys/api-key.repository.js';
import {
  findProject,
  findProjectBySlug,
  type Project,
} from '../../tenancy/projects/project.repository.js';
import { printJson, UsageError, withDatabase, withSubjectKeys } from '../cli-context.js';
import { registerEncryptionKeyCommands } from './encryption-keys.command.js';
import { registerReencryptCommand } from './reencrypt.command.js';

/** The organization a command acts on: `--org`, or the only one there is. */
async function resolveOrg(db: Database, orgOption: string | undefined): Promise<string> {
  if (orgOption) {
    if (!z.uuid().safeParse(orgOption).success)
      throw new UsageError('--org must be an organization id (a UUID)');
    return orgOption;
  }
  // Row-level security hides organizations outside a tenant scope, so the ids come from the
  // SECURITY DEFINER function that lists them.
  const orgs = await db.query<{ id: string }>(
    'SELECT id FROM tenancy_organization_ids() AS id LIMIT 2',
  );
  if (orgs.rows.length === 0)
    throw new UsageError('no organization exists yet: run `mindweave bootstrap` first');
  if (orgs.rows.length > 1) throw new UsageError('several organizations exist: pass --org <id>');
  return (orgs.rows[0] as { id: string }).id;
}

/** A project named by slug or id within the organization. */
async function resolveProject(db: Database, orgId: string, ref: string): Promise<Project> {
  const project = await inTenant(db, orgId, (tx) =>
    z.uuid().safeParse(ref).success
      ? findProject(tx, orgId, ref)
      : findProjectBySlug(tx, orgId, ref),
  );
  if (!project) throw new UsageError(`project ${ref} not found in organization ${orgId}`);
  return project;
}

const cliScope = (orgId: string) => ({ actor: SYSTEM_ACTOR, context: SYSTEM_CONTEXT, orgId });

export function registerKeys(program: Command): void {
  const keys = program
    .command('keys')
    .description(
      'manage gateway API keys (create, list, revoke) and encryption keys (status, rotate)',
    );
  registerEncryptionKeyCommands(keys);
  registerReencryptCommand(keys);

  keys
    .command('create')
    .description('create an API key for a project; the key is printed once')
    .requiredOption('--project <slug-or-id>', 'project the key belongs to')
    .option('--name <name>', 'label of the key', 'cli')
    .option('--expires-at <time>', 'ISO-8601 expiry time, e.g. 2027-01-31T00:00:00Z')
    .option('--org <id>', 'organization id (default: the only organization)')
    .option('--json', 'print one JSON object', false)
    .action(
      async (options: {
        project: string;
        name: string;
        expiresAt?: string;
        org?: string;
        json: boolean;
      }) => {
        const input = parseOrThrow(createApiKeySchema, {
          name: options.name,
          expiresAt: options.expiresAt,
        });
        const created = await withDatabase('mindweave keys create', async (db, config) => {
          const orgId = await resolveOrg(db, options.org);
          const project = await resolveProject(db, orgId, options.project);
          return withSubjectKeys(db, config, () =>
            createApiKey(db, cliScope(orgId), project.id, input),
          );
        });
        if (options.json) printJson({ ...apiKeyView(created.key), key: created.secret });
        else process.stdout.write(`${created.secret}\n(id ${created.key.id}; shown only now)\n`);
      },
    );

  keys
    .command('list')
    .description('list API keys (masked) of the organization or one project')
    .option('--project <slug-or-id>', 'only this project')
    .option('--org <id>', 'organization id (default: the only organization)')
    .option('--json', 'print one JSON object', false)
    .action(async (options: { project?: string; org?: string; json: boolean }) => {
      const views = await withDatabase('mindweave keys list', async (db) => {
        const orgId = await resolveOrg(db, options.org);
        const project = options.project
          ? await resolveProject(db, orgId, options.project)
          : undefined;
        const found = await inTenant(db, orgId, (tx) => listApiKeys(tx, orgId, project?.id));
        return found.map((key) => apiKeyView(key));
      });
      if (options.json) return printJson({ data: views });
      for (const view of views) {
        process.stdout.write(
          `${view.id}  ${view.maskedKey}  ${view.status.padEnd(7)}  ${view.name}\n`,
        );
      }
    });

  keys
    .command('revoke')
    .description('revoke an API key; gateways stop accepting it within one second')
    .argument('<key-id>', 'id of the key, as `keys list` shows it')
    .option('--org <id>', 'organization id (default: the only organization)')
    .action(async (keyId: string, options: { org?: string }) => {
      if (!z.uuid().safeParse(keyId).success)
        throw new UsageError('<key-id> must be a key id (a UUID)');
      const revoked = await withDatabase('mindweave keys revoke', async (db, config) => {
        const orgId = await resolveOrg(db, options.org);
        const key = await inTenant(db, orgId, (tx) => findApiKey(tx, orgId, keyId));
        if (!key) throw new AppError('not_found', `API key ${keyId} not found`);
        return withSubjectKeys(db, config, () =>
          revokeKey(db, cliScope(orgId), key.projectId, keyId),
        );
      });
      process.stdout.write(`revoked ${apiKeyView(revoked).maskedKey} (${revoked.id})\n`);
    });
}
