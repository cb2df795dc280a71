import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Option `--database-admin-url` of the benchmarks that create a fresh database. */
export const databaseAdminUrlOption = {
  type: 'string',
  default: process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
} as const;

/**
 * Parses the command line against `options`. With `--help` it prints `usage` and exits 0, and an
 * invalid option prints the error and the usage, then exits 2.
 */
export function parseBenchCommandLine<T extends Options>(options: T, usage: string) {
  let parsed;
  try {
    parsed = parseArgs({ options });
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    process.exit(2);
  }
  if ((parsed.values as Record<string, unknown>).help === true) {
    process.stdout.write(usage);
    process.exit(0);
  }
  return parsed;
}
