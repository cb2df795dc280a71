import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level, Logger } from 'pino';

/**
 * The logger of one request. It creates the pino child with the request's bindings only when
 * a line is written at an enabled level, when its level is set, or when a child of it is
 * created. Creating a pino child runs the redaction of its bindings, which a request
 * that logs nothing (such as a successful gateway call at `LOG_LEVEL=warn`) does not need.
 */
class RequestLogger implements FastifyBaseLogger {
  #child: FastifyBaseLogger | null = null;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
  ) {}

  #logger(): FastifyBaseLogger {
    this.#child ??= this.parent.child(this.bindings);
    return this.#child;
  }

  #write(level: Level, values: unknown[]): void {
    // The child's level is the parent's until someone sets it, and setting it creates the child.
    if (this.#child === null && !this.parent.isLevelEnabled(level)) return;
    this.#logger()[level](...(values as Parameters<FastifyBaseLogger[Level]>));
  }

  get level(): string {
    return this.#child?.level ?? this.parent.level;
  }

  set level(value: string) {
    this.#logger().level = value;
  }

  fatal(...values: unknown[]): void {
    this.#write('fatal', values);
  }

  error(...values: unknown[]): void {
    this.#write('error', values);
  }

  warn(...values: unknown[]): void {
    this.#write('warn', values);
  }

  info(...values: unknown[]): void {
    this.#write('info', values);
  }

  debug(...values: unknown[]): void {
    this.#write('debug', values);
  }

  trace(...values: unknown[]): void {
    this.#write('trace', values);
  }

  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#logger().child(bindings, options);
  }
}

function isPinoLogger(logger: FastifyBaseLogger): logger is FastifyBaseLogger & Logger {
  return typeof (logger as Partial<Logger>).isLevelEnabled === 'function';
}

/**
 * Creates the logger of a request, as Fastify's `childLoggerFactory`: a {@link RequestLogger}. A route with its own log
 * level or serializers, or a logger that is not pino, gets an ordinary child at once.
 */
export function requestLoggerFactory(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  if (!isPinoLogger(logger) || Object.keys(options).length > 0) {
    return logger.child(bindings, options);
  }
  return new RequestLogger(logger, bindings);
}
