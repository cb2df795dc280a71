import { Command, CommanderError } from 'commander';

import { ConfigError } from '../config/load-config.js';
import { DataDirLockedError } from '../data/database/data-dir-lock.js';
import { KmsError } from '../data/kms/kms-provider.js';
import { DevCertError } from '../perimeter/tls/dev-cert.js';
import { AppError } from '../http/errors.js';
import { registerAudit } from './commands/audit.command.js';
import { registerBootstrap } from './commands/bootstrap.command.js';
import { registerKeyRewrapCommand } from './commands/key-rewrap.command.js';
import { registerKeys } from './commands/keys.command.js';
import { registerMasterKeyCommands } from './commands/master-key.command.js';
import { registerMigrate } from './commands/migrate.command.js';
import { registerServe } from './commands/serve.command.js';
import { registerSubjects } from './commands/subjects.command.js';
import { registerTls } from './commands/tls.command.js';
import { registerWaf } from './commands/waf.command.js';
import { UsageError } from './cli-context.js';

/** Exit code for invalid configuration, distinct from other failures (1). */
const EXIT_CONFIG = 2;

/** Exit code for a usage error: an invalid option, argument or subcommand. */
const EXIT_USAGE = 2;

function reportFailure(error: unknown): number {
  if (error instanceof ConfigError) {
    process.stderr.write(`mindweave: ${error.message}\n`);
    return EXIT_CONFIG;
  }
  if (error instanceof AppError) {
    const details =
      error.details?.map((issue) => `\n  ${issue.field}: ${issue.message}`).join('') ?? '';
    process.stderr.write(`mindweave: ${error.message}${details}\n`);
    return 1;
  }
  if (error instanceof UsageError) {
    process.stderr.write(`mindweave: ${error.message}\n`);
    return EXIT_USAGE;
  }
  if (
    error instanceof DataDirLockedError ||
    error instanceof KmsError ||
    error instanceof DevCertError
  ) {
    process.stderr.write(`mindweave: ${error.message}\n`);
    return 1;
  }
  process.stderr.write(
    `mindweave: unexpected failure: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  return 1;
}

const program = new Command()
  .name('mindweave')
  .description('MindWeave: self-hosted AI governance gateway')
  .showHelpAfterError()
  .exitOverride();

registerServe(program);
registerMigrate(program);
registerBootstrap(program);
registerKeys(program);
registerKeyRewrapCommand(program);
registerMasterKeyCommands(program);
registerAudit(program);
registerSubjects(program);
registerTls(program);
registerWaf(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Commander has already printed its message. It ends parse errors (unknown option, missing
  // argument, unknown subcommand) with code 1, which is mapped to the usage exit code here.
  if (error instanceof CommanderError)
    process.exit(error.exitCode === 1 ? EXIT_USAGE : error.exitCode);
  process.exit(reportFailure(error));
}
