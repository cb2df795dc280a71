/**
 * A MindWeave server in a process of its own, for tests that need a second server process.
 * It reads the parsed configuration as JSON from MINDWEAVE_TEST_CONFIG, prints its URL as one
 * line on stdout once it listens, and stops on SIGTERM.
 * Usage: node --import tsx server.process.ts
 */
import type { Config } from '../../../src/config/config.schema.js';
import { createLogger } from '../../../src/monitoring/logging/logger.js';
import { startServer } from '../../../src/server/start-server.js';

const config = JSON.parse(process.env.MINDWEAVE_TEST_CONFIG ?? 'null') as Config;
const server = await startServer(config, createLogger('error', process.stderr));
process.stdout.write(`${server.url}\n`);
process.once('SIGTERM', () => {
  void server.stop().finally(() => process.exit(0));
});
