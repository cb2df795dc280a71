import type { Command } from 'commander';

import { withDatabase } from '../cli-context.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations and exit')
    .action(async () => {
      await withDatabase('mindweave migrate', async (db) => {
        const result = await db.query<{ version: number }>(
          'SELECT max(version) AS version FROM schema_migrations',
        );
        process.stdout.write(`database schema is at version ${result.rows[0]?.version ?? 0}\n`);
      });
    });
}
