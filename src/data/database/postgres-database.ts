import pg from 'pg';

import type { Database, Queryable, QueryResult, TransactionOptions } from './database.js';

// A fixed key for pg_advisory_lock, so concurrent starts of several servers migrate one at a time.
const MIGRATION_LOCK_KEY = 0x6d77_6d69;

// int8 values (counts, sequence numbers) arrive as strings from both drivers' defaults
// only in `pg`; parse them as numbers while they fit so both implementations agree.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => {
  const parsed = Number(value);
  return Number.isSafeInteger(parsed) ? parsed : value;
});

/** Wraps one `pg` client or pool so it satisfies {@link Queryable}. */
function queryable(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
      const result = await client.query(text, params);
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
    },
  };
}

const SETTING_NAME = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/;

/**
 * Returns the statement that opens a transaction with its local settings. It is one simple-query
 * message, so the settings cost no round trip beyond BEGIN. Values are quoted with the driver's
 * literal escaping, because a multi-statement query cannot carry parameters.
 */
function beginStatement(options: TransactionOptions | undefined): string {
  const statements = ['BEGIN'];
  for (const [name, value] of Object.entries(options?.localSettings ?? {})) {
    if (!SETTING_NAME.test(name)) throw new Error(`invalid configuration setting name ${name}`);
    statements.push(`SELECT set_config('${name}', ${pg.escapeLiteral(value)}, true)`);
  }
  return statements.join('; ');
}

/** Connection options: pool size, and the role every connection switches to. */
export interface PostgresOptions {
  poolSize?: number;
  /** A role to `SET ROLE` to on every new connection, e.g. the application role. */
  role?: string;
  /**
   * Returns the password for each new connection, in place of the URL's password, so that a
   * rotated password reaches new connections while open ones keep working.
   */
  password?: () => string | undefined;
}

/** A `pg.Client` class whose connections ask `password` for the password when they open. */
function clientWithPassword(password: () => string | undefined): typeof pg.Client {
  return class extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      // pg calls a password function when the server asks for a password. The connection
      // string's password would otherwise override a `password` option.
      Object.defineProperty(this, 'password', {
        configurable: true,
        enumerable: false,
        writable: true,
        value: password,
      });
    }
  };
}

/** Opens a pooled connection to a PostgreSQL server. */
export async function openPostgresDatabase(url: string, options: PostgresOptions = {}): Promise<Database> {
  if (options.role !== undefined && !/^[a-z_][a-z0-9_]*$/.test(options.role)) {
    throw new Error(`invalid database role name ${options.role}`);
  }
  // The role is set as a startup parameter, so each connection runs as it from its first query.
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    ...(options.role === undefined ? {} : { options: `-c role=${options.role}` }),
    ...(options.password === undefined ? {} : { Client: clientWithPassword(options.password) }),
  });
  // An idle client that loses its connection emits 'error' on the pool; without a listener
  // that would crash the process. The next query gets a fresh connection.
  pool.on('error', () => undefined);
  await pool.query('SELECT 1');

  const transaction = async <T>(
    work: (tx: Queryable) => Promise<T>,
    options?: TransactionOptions,
  ): Promise<T> => {
    const begin = beginStatement(options);
    const client = await pool.connect();
    // A connection lost while the transaction awaits other work (not a query) is reported as an
    // 'error' event on the checked-out client, which would crash the process without a
    // listener. The next query of the transaction then fails, and the client is discarded.
    let lost: Error | undefined;
    const onError = (error: Error) => {
      lost = error;
    };
    client.on('error', onError);
    try {
      await client.query(begin);
      const result = await work(queryable(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.off('error', onError);
      client.release(lost);
    }
  };

  return {
    kind: 'postgres',
    ...queryable(pool),
    transaction,
    async execScript(sql) {
      await transaction((tx) => tx.query(sql));
    },
    async withExclusiveLock(work) {
      const client = await pool.connect();
      // The lock connection sits idle while `work` runs; see the listener in `transaction`.
      let lost: Error | undefined;
      const onError = (error: Error) => {
        lost = error;
      };
      client.on('error', onError);
      try {
        await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        return await work();
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
        client.off('error', onError);
        client.release(lost);
      }
    },
    close: () => pool.end(),
  };
}
