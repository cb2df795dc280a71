/**
 * Login-by-email benchmark: how long the user lookup of a sign-in takes through the encrypted
 * email's blind index, against a plaintext-column lookup measured in the same run.
 *
 *   npx tsx bench/identity/login-by-email.ts [--users 5000] [--lookups 2000]
 *
 * Needs PostgreSQL on 127.0.0.1:5432 (BENCH_DATABASE_ADMIN_URL to change it). Creates and drops
 * its own database. Lookups run one at a time through the application role, in turns of 100
 * per case so that load changes on the machine hit every case alike. Password hashing is not
 * part of it: see bench/identity/login.ts for whole sign-ins.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { pino } from 'pino';

import { APPLICATION_ROLE } from '../../src/data/database/open-database.js';
import { openPostgresDatabase } from '../../src/data/database/postgres-database.js';
import { openDataProtection } from '../../src/data/key-store/data-protection.js';
import { UserFieldProtection } from '../../src/data/personal-data/user-field-protection.js';
import { installUserFieldProtection } from '../../src/data/personal-data/user-field-registry.js';
import { findUserCredentialsByEmail, insertUser } from '../../src/tenancy/users/user.repository.js';
import { describeEnvironment, withBenchDatabase } from '../audit/bench-database.js';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '5000' },
    lookups: { type: 'string', default: '2000' },
  },
});
const USERS = Number(args.users);
const LOOKUPS = Number(args.lookups);
const TURN = 100;
const WARMUP = 50;

/** Nearest-rank percentile of sorted samples. */
function percentile(sorted: number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

const emailOf = (i: number) => `bench.user.${i}@example.org`;

await withBenchDatabase(async (database) => {
  const environment = await describeEnvironment(database.url);
  const directory = await mkdtemp(join(tmpdir(), 'mindweave-bench-login-email-'));
  const db = await openPostgresDatabase(database.url, { role: APPLICATION_ROLE, poolSize: 4 });
  const owner = await openPostgresDatabase(database.url, { poolSize: 2 });
  const keys = await openDataProtection(
    { MINDWEAVE_DATA_DIR: directory, KMS_MASTER_KEY_DIR: undefined },
    db,
    pino({ level: 'silent' }),
    'bench',
  );
  try {
    const protection = new UserFieldProtection(keys.fieldCipher, keys.hierarchy);
    installUserFieldProtection(protection);

    // The baseline table is what users looked like before encryption: a unique email column.
    await owner.query(
      `CREATE TABLE bench_plain_users (id uuid PRIMARY KEY, email text NOT NULL UNIQUE,
         name text NOT NULL, password_hash text)`,
    );
    await owner.query(`GRANT SELECT ON bench_plain_users TO ${APPLICATION_ROLE}`);
    for (let i = 0; i < USERS; i += 1) {
      const user = await insertUser(db, {
        email: emailOf(i),
        name: `Bench User ${i}`,
        passwordHash: null,
        mustChangePassword: false,
      });
      await owner.query('INSERT INTO bench_plain_users (id, email, name) VALUES ($1, $2, $3)', [
        user.id,
        emailOf(i),
        `Bench User ${i}`,
      ]);
    }
    await owner.query('ANALYZE users');
    await owner.query('ANALYZE bench_plain_users');

    let next = 0;
    const pick = () => emailOf((next = (next * 7919 + 13) % USERS));
    const cases: { name: string; run: (email: string) => Promise<unknown> }[] = [
      {
        name: 'plaintext email column (baseline)',
        run: (email) =>
          db.query(
            'SELECT id, email, name, password_hash FROM bench_plain_users WHERE email = $1',
            [email],
          ),
      },
      { name: 'blind index, 1 key version', run: (email) => findUserCredentialsByEmail(db, email) },
      {
        name: 'blind index, unknown email',
        run: (email) => findUserCredentialsByEmail(db, `missing.${email}`),
      },
    ];

    const measure = async (label: string, list: typeof cases) => {
      const samples = new Map(list.map((entry) => [entry.name, [] as number[]]));
      for (const entry of list) for (let i = 0; i < WARMUP; i += 1) await entry.run(pick());
      for (let done = 0; done < LOOKUPS; done += TURN) {
        for (const entry of list) {
          const target = samples.get(entry.name) as number[];
          for (let i = 0; i < TURN; i += 1) {
            const email = pick();
            const start = process.hrtime.bigint();
            const found = await entry.run(email);
            target.push(Number(process.hrtime.bigint() - start) / 1e6);
            if (found === null && !entry.name.endsWith('unknown email')) {
              throw new Error(`${entry.name} did not find ${email}`);
            }
          }
        }
      }
      console.log(`\n${label}\n`);
      console.log('| lookup | p50 ms | p99 ms | mean ms | p50 / baseline p50 |');
      console.log('| --- | ---: | ---: | ---: | ---: |');
      const baseline = percentile(
        [...(samples.get(cases[0]!.name) ?? [])].sort((a, b) => a - b),
        50,
      );
      for (const [name, values] of samples) {
        const sorted = [...values].sort((a, b) => a - b);
        const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
        const p50 = percentile(sorted, 50);
        console.log(
          `| ${name} | ${p50.toFixed(3)} | ${percentile(sorted, 99).toFixed(3)} | ` +
            `${mean.toFixed(3)} | ${(p50 / baseline).toFixed(2)} |`,
        );
      }
    };

    await measure(`${USERS} users, ${LOOKUPS} lookups per case`, cases);

    // After a rotation every lookup computes one index per decryptable version until the
    // re-encryption job has moved the rows.
    await keys.hierarchy.rotate(await protection.keyId(), 'bench');
    await measure('after one rotation, before re-encryption', [
      cases[0]!,
      {
        name: 'blind index, 2 key versions',
        run: (email) => findUserCredentialsByEmail(db, email),
      },
    ]);

    console.log('\nEnvironment:', environment);
  } finally {
    await keys.close();
    await owner.close();
    await db.close();
    await rm(directory, { recursive: true, force: true });
  }
});
