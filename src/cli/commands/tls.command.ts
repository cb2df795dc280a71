import type { Command } from 'commander';

import { DEV_CERT_DAYS, writeDevCert } from '../../perimeter/tls/dev-cert.js';
import { printJson } from '../cli-context.js';

export function registerTls(program: Command): void {
  const tls = program.command('tls').description('TLS certificates for the HTTPS listener');

  tls
    .command('dev-cert')
    .description(
      `write a self-signed ECDSA P-384 certificate for localhost, valid ${DEV_CERT_DAYS} days ` +
        '(needs the openssl command)',
    )
    .option('--out <dir>', 'folder for dev-cert.pem and dev-key.pem', '.')
    .option('--json', 'print the file paths as JSON')
    .action(async (options: { out: string; json?: boolean }) => {
      const files = await writeDevCert(options.out);
      if (options.json) {
        printJson(files);
        return;
      }
      process.stdout.write(
        `wrote ${files.certFile} and ${files.keyFile} (mode 0600)\n` +
          `start with: TLS_CERT_FILE=${files.certFile} TLS_KEY_FILE=${files.keyFile} mindweave serve\n`,
      );
    });
}
