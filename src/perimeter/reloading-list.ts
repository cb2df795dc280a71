/* eslint-disable security/detect-non-literal-fs-filename -- the paths are the operator's
   settings, not request input. */
import { readFile, stat } from 'node:fs/promises';

import type { FastifyBaseLogger } from 'fastify';

import { ConfigError } from '../config/load-config.js';

/** A line of an operator's list file that could not be parsed. */
export class ListFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`line ${line} of ${file} is invalid: ${detail}`);
    this.name = 'ListFileError';
  }
}

/** The text of one list file. */
export interface ListFile {
  path: string;
  text: string;
}

export interface ReloadingListOptions<T> {
  /** The setting that names the files, for configuration errors. */
  variable: string;
  /** Name of the list in log messages, such as `Tor exit list`. */
  listName: string;
  paths: readonly string[];
  /** Builds the list from the files' text; throws ListFileError for a bad line. */
  parse: (files: ListFile[]) => T | Promise<T>;
  /** Log fields that summarize a loaded list, such as its entry count. */
  summarize: (list: T) => Record<string, unknown>;
  checkIntervalMs: number;
  logger: FastifyBaseLogger;
}

async function readListFiles(paths: readonly string[]): Promise<ListFile[]> {
  return Promise.all(paths.map(async (path) => ({ path, text: await readFile(path, 'utf8') })));
}

/** Changes whenever a file is rewritten in place or replaced by a rename. */
async function fileVersions(paths: readonly string[]): Promise<string> {
  const stats = await Promise.all(paths.map((path) => stat(path)));
  return stats.map((info) => `${info.ino}:${info.size}:${info.mtimeMs}`).join('|');
}

/**
 * A list loaded from operator files and loaded again when they change. Every
 * `checkIntervalMs` the files' inode, size and modification time are compared with the loaded
 * version, so a refresh by rewriting or by renaming a new file into place takes effect without
 * a restart. A refresh that fails to read or parse is logged and the previous list stays in use.
 */
export class ReloadingList<T> {
  #current: T;
  #versions: string;
  #timer: NodeJS.Timeout | undefined;
  #checking = false;
  #lastProblem: string | null = null;

  private constructor(
    private readonly options: ReloadingListOptions<T>,
    initial: T,
    versions: string,
  ) {
    this.#current = initial;
    this.#versions = versions;
  }

  /**
   * Loads the files and starts watching them.
   *
   * @throws ConfigError naming the setting, the file and the line when a file cannot be read
   * or has an invalid line, so the server does not start with a list it cannot apply.
   */
  static async open<T>(options: ReloadingListOptions<T>): Promise<ReloadingList<T>> {
    let list: T;
    let versions: string;
    try {
      versions = await fileVersions(options.paths);
      list = await options.parse(await readListFiles(options.paths));
    } catch (error) {
      throw toConfigError(options.variable, error);
    }
    options.logger.info(
      { files: options.paths, ...options.summarize(list) },
      `${options.listName} loaded`,
    );
    const reloading = new ReloadingList(options, list, versions);
    reloading.#timer = setInterval(() => void reloading.check(), options.checkIntervalMs);
    reloading.#timer.unref();
    return reloading;
  }

  /** The list as last loaded successfully. */
  get current(): T {
    return this.#current;
  }

  /** Stops watching the files. */
  stop(): void {
    clearInterval(this.#timer);
  }

  /** Loads the files again when any of them changed since the last attempt. */
  async check(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    const { logger, listName, paths } = this.options;
    try {
      const versions = await fileVersions(paths);
      if (versions === this.#versions) return;
      // Recorded before parsing, so a bad file is reported once and retried when it changes.
      this.#versions = versions;
      const list = await this.options.parse(await readListFiles(paths));
      this.#current = list;
      this.#lastProblem = null;
      logger.info({ files: paths, ...this.options.summarize(list) }, `${listName} reloaded`);
    } catch (error) {
      const problem = error instanceof Error ? error.message : String(error);
      if (problem !== this.#lastProblem) {
        logger.error(
          { files: paths, reason: problem },
          `${listName} not reloaded, so the previous one stays in use`,
        );
      }
      this.#lastProblem = problem;
    } finally {
      this.#checking = false;
    }
  }
}

function toConfigError(variable: string, error: unknown): Error {
  if (error instanceof ListFileError) {
    return new ConfigError(variable, `names a file with an invalid line: ${error.message}`);
  }
  const { code, path } = error as NodeJS.ErrnoException;
  if (code !== undefined) {
    return new ConfigError(variable, `names a file that cannot be read (${code}): ${path ?? ''}`);
  }
  return error instanceof Error ? error : new Error(String(error));
}
