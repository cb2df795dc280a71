/** Rows and row count of one executed statement. */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

/** Anything that runs parameterised SQL: the database itself or an open transaction. */
export interface Queryable {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<QueryResult<R>>;
}

/** Options of {@link Database.transaction}. */
export interface TransactionOptions {
  /**
   * Configuration settings made with `set_config(name, value, true)` when the transaction
   * begins: they hold until it commits or rolls back, and a pooled connection never keeps them.
   */
  localSettings?: Readonly<Record<string, string>>;
}

/**
 * The system of record. The same SQL runs on both implementations: a PostgreSQL server
 * reached through `pg`, and embedded PostgreSQL (PGlite) persisted in the data folder.
 */
export interface Database extends Queryable {
  readonly kind: 'embedded' | 'postgres';
  /** Runs `work` in one transaction; it commits when `work` resolves and rolls back when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Runs a script of several statements without parameters, inside one transaction. */
  execScript(sql: string): Promise<void>;
  /** Runs `work` while holding a database-wide lock, so only one process migrates at a time. */
  withExclusiveLock<T>(work: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
