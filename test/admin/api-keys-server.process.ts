/**
 * A second MindWeave server process for the cross-process revocation test. It starts on the
 * database and data folder in the environment, prints its URL on one line, and stops on SIGTERM.
 * Usage: node --import tsx api-keys-server.process.ts (settings in the environment)
 */
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/monitoring/logging/logger.js';
import { startServer } from '../../src/server/start-server.js';

const config = loadConfig(process.env);
const server = await startServer(config, createLogger('silent'));
process.stdout.write(`${server.url}\n`);
process.once('SIGTERM', () => {
  void server.stop().then(() => process.exit(0));
});
