import { errorCodes, type FastifyInstance } from 'fastify';

/**
 * Body text of a media type no route accepts (form, XML, multipart, none given), read only so
 * the WAF can inspect it. No route handler ever receives one: see {@link rejectUnparsedBodies}.
 */
export class UnparsedBody {
  constructor(
    /** Content-Type header as sent, empty when the request had none. */
    readonly contentType: string,
    readonly text: string,
  ) {}
}

/**
 * Registers a catch-all content-type parser that reads every body without a parser of its own
 * as UTF-8 text wrapped in an {@link UnparsedBody}. Fastify's JSON and plain-text parsers keep
 * their media types. The route's body limit applies as for JSON: a declared Content-Length over
 * it gets 413 before any byte is read, and a chunked body is counted as it streams.
 */
export function acceptUnparsedBodies(app: FastifyInstance): void {
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, text, done) => {
    const contentType = request.headers['content-type'] ?? '';
    done(null, new UnparsedBody(contentType, String(text)));
  });
}

/**
 * Rejects a request whose body is an {@link UnparsedBody} with the error Fastify raises for a
 * media type without a parser, so each error handler responds 415 `unsupported_media_type` as it
 * did before such bodies were read. A request to an unknown path goes on to the 404 handler.
 * Register it after the WAF hook, so the WAF inspects the body first.
 */
export function rejectUnparsedBodies(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    if (!(request.body instanceof UnparsedBody) || request.is404) return;
    throw new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE();
  });
}
