import type { Command } from 'commander';
import { z } from 'zod';

import { parseOrThrow } from '../../http/validation.js';
import { bootstrap } from '../../tenancy/bootstrap.service.js';
import { modelNameSchema, projectSlugSchema } from '../../tenancy/projects/project.schema.js';
import { emailSchema, personNameSchema } from '../../tenancy/users/user.schema.js';
import { printJson, withDatabase } from '../cli-context.js';

const optionsSchema = z.object({
  org: z.string().trim().min(1).max(100),
  project: projectSlugSchema,
  adminEmail: emailSchema,
  adminName: personNameSchema,
  models: z.array(modelNameSchema).max(500),
  json: z.boolean(),
});

const splitList = (value: string) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

export function registerBootstrap(program: Command): void {
  program
    .command('bootstrap')
    .description('create the first organization, owner, project and API key (first run only)')
    .requiredOption('--org <name>', 'organization name')
    .requiredOption('--project <slug>', 'project slug: lowercase letters, digits and -')
    .requiredOption('--admin-email <email>', 'email of the first owner')
    .option('--admin-name <name>', 'display name of the first owner', 'Administrator')
    .option('--models <list>', 'comma-separated models the project may call (default: none)', '')
    .option('--json', 'print one JSON object instead of text', false)
    .action(async (raw: Record<string, unknown>) => {
      const options = parseOrThrow(optionsSchema, {
        ...raw,
        models: splitList(typeof raw.models === 'string' ? raw.models : ''),
      });
      const result = await withDatabase('mindweave bootstrap', (db) =>
        bootstrap(db, {
          orgName: options.org,
          projectSlug: options.project,
          adminEmail: options.adminEmail,
          adminName: options.adminName,
          allowedModels: options.models,
        }),
      );
      if (options.json) {
        printJson({ ...result, allowedModels: options.models });
        return;
      }
      const lines = [
        `organization  ${result.orgId}`,
        `project       ${result.projectId} (${options.project})`,
        `admin         ${result.adminEmail}`,
        `password      ${result.adminPassword}   (one-time: change it at first sign-in)`,
        `api key       ${result.apiKey}`,
        `models        ${options.models.length > 0 ? options.models.join(', ') : 'none: set them with --models or the admin API'}`,
        '',
        'The password and API key are shown only now; store them in a password manager.',
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
