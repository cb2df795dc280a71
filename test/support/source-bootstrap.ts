import { loadConfig } from '../../src/config/load-config.js';
import { migrate } from '../../src/data/database/migrate.js';
import { openDatabase } from '../../src/data/database/open-database.js';
import { bootstrap, type BootstrapResult } from '../../src/tenancy/bootstrap.service.js';
import type { SourceServer } from './source-server.js';
import { TEST_MODELS, type TestServer } from './test-server.js';

/** Migrates the database named in `env` and creates the test organization, project and owner. */
export async function bootstrapSourceDatabase(
  env: Record<string, string>,
): Promise<BootstrapResult> {
  const db = await openDatabase(loadConfig(env), 'test bootstrap');
  try {
    await migrate(db);
    return await bootstrap(db, {
      orgName: 'Acme',
      projectSlug: 'demo',
      adminEmail: 'owner@example.com',
      adminName: 'Olivia Owner',
      allowedModels: TEST_MODELS,
    });
  } finally {
    await db.close();
  }
}

/** Returns the parts of a test server that the admin API helpers use. */
export function sourceTarget(server: SourceServer, boot: BootstrapResult): TestServer {
  return { url: server.url, boot } as unknown as TestServer;
}
