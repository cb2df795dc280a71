import { randomUUID } from 'node:crypto';

import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify';
import type { Logger } from 'pino';

import type { Redis } from 'ioredis';

import { registerAccessControl } from '../application/access/access-control.js';
import { changeRequestRoutes } from '../application/approvals/change-request.routes.js';
import { registerAuthorization } from '../application/authorization/authorize.hook.js';
import { recordRoutes } from '../application/authorization/route-catalogue.js';
import { authRoutes } from '../application/auth/auth.routes.js';
import { createIdentityServices } from '../application/auth/identity.js';
import { webAuthnRoutes } from '../application/webauthn/webauthn.routes.js';
import { webAuthnSettingsFromConfig } from '../application/webauthn/webauthn-settings.js';
import { ssoRoutes } from '../application/sso/sso.routes.js';
import { createSsoServices } from '../application/sso/sso-services.js';
import type { Config } from '../config/config.schema.js';
import type { Database } from '../data/database/database.js';
import type { DataProtection } from '../data/key-store/data-protection.js';
import { gatewayRoutes } from '../gateway/gateway.routes.js';
import { toolCallRoutes } from '../gateway/tools/tool-call.routes.js';
import { providerKeyRoutes } from '../gateway/provider-keys/provider-key.routes.js';
import { ProviderKeyService } from '../gateway/provider-keys/provider-key.service.js';
import type { UpstreamClient } from '../gateway/upstream/upstream-client.js';
import { AppError, errorBody } from '../http/errors.js';
import { toAppError } from '../http/fastify-errors.js';
import { requestFailureLogger } from '../http/outage-log.js';
import { ipAllowlistRoutes } from '../network/ip-allowlist.routes.js';
import { registerAccessRules } from '../perimeter/access-rules.js';
import { GatewayRateLimits, registerRateLimits } from '../perimeter/rate-limit/rate-limit.http.js';
import type { RateLimiter } from '../perimeter/rate-limit/rate-limiter.js';
import { handleClientError } from '../perimeter/request-limits/client-error.js';
import { createPerimeterServer } from '../perimeter/request-limits/http-server.js';
import { registerRequestLimits } from '../perimeter/request-limits/request-limits.hook.js';
import { registerWaf } from '../perimeter/waf/waf.hook.js';
import type { TlsServerOptions } from '../perimeter/tls/tls-options.js';
import { requestLoggerFactory } from '../http/request-logger.js';
import { securityHeaders } from '../http/security-headers.js';
import type { UsageRecorder } from '../gateway/usage/usage-recorder.js';
import { apiKeyRoutes } from '../tenancy/api-keys/api-key.routes.js';
import { memberRoutes } from '../tenancy/members/member.routes.js';
import { organizationStatusRoutes } from '../tenancy/organizations/organization-status.routes.js';
import { organizationRoutes } from '../tenancy/organizations/organization.routes.js';
import { projectRoutes } from '../tenancy/projects/project.routes.js';
import type { AuditCheckpointer } from '../monitoring/audit/audit-checkpointer.js';
import { auditRoutes } from '../monitoring/audit/audit.routes.js';
import { securityEventRoutes } from '../monitoring/security-events/security-event.routes.js';
import type { SecurityEvents } from '../monitoring/security-events/security-events.service.js';
import type { AuditSigningKey } from '../monitoring/audit/signing-key.js';
import { healthRoutes } from './health.routes.js';

/** Largest request body accepted on any route: 10 MB. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** What the HTTP application needs; every piece is created and closed by the caller. */
export interface AppDependencies {
  config: Config;
  db: Database;
  logger: Logger;
  upstream: UpstreamClient;
  usage: UsageRecorder;
  checkpointer: AuditCheckpointer;
  signingKey: AuditSigningKey;
  /** Key hierarchy and field cipher; without it organizations cannot store provider keys. */
  dataProtection?: DataProtection;
  /** Per-IP, sign-in and per-API-key limits; none are applied when absent. */
  rateLimiter?: RateLimiter;
  /** Certificate and key for HTTPS; plain HTTP when absent. */
  tls?: TlsServerOptions | null;
  /** Shares sign-in failure counters between servers; without it they stay in this process. */
  redis?: Redis | null;
  /** Records perimeter blocks, bursts and sign-in failures; nothing is recorded when absent. */
  securityEvents?: SecurityEvents;
}

/** Builds the HTTP application with every route; it does not listen. */
export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const logger: FastifyBaseLogger = deps.logger;
  const headers = securityHeaders(Boolean(deps.tls) || deps.config.TRUST_PROXY_TLS);
  const app = Fastify({
    loggerInstance: logger,
    // Fastify's two request log lines are replaced by one line per request (onResponse below).
    logController: new LogController({
      disableRequestLogging: true,
      requestIdLogLabel: 'requestId',
    }),
    // Each request's pino child is created only when the request writes a log line.
    childLoggerFactory: requestLoggerFactory,
    genReqId: () => randomUUID(),
    bodyLimit: MAX_BODY_BYTES,
    return503OnClosing: true,
    // X-Forwarded-For, -Host and -Proto count only when the peer is one of these addresses.
    trustProxy: deps.config.TRUSTED_PROXIES ?? false,
    serverFactory: (handler) =>
      createPerimeterServer(handler, deps.config, deps.logger, deps.tls ?? null),
    clientErrorHandler: (error, socket) => handleClientError(error, socket, headers),
    // Errors raised while routing (a malformed percent-encoding, an over-long path parameter)
    // skip every hook, so this handler adds the headers the onRequest hook would have set.
    frameworkErrors: (error, request, rawReply) => {
      const reply = rawReply as FastifyReply;
      const appError =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new AppError('not_found')
          : new AppError('validation_failed', 'The request URL is not valid');
      void reply
        .headers(headers)
        .header('x-request-id', request.id)
        .code(appError.status)
        .send(errorBody(appError, request.id));
    },
  });

  app.decorate('servedOverTls', Boolean(deps.tls) || deps.config.TRUST_PROXY_TLS);
  app.addHook('onRequest', async (request, reply) => {
    reply.headers(headers);
    reply.header('x-request-id', request.id);
  });
  // Rate limits run first, so a flood of requests that the checks below reject is limited too.
  const perimeterEvents = deps.securityEvents?.perimeter;
  if (deps.rateLimiter) registerRateLimits(app, deps.rateLimiter, perimeterEvents?.onBlock);
  recordRoutes(app);
  registerRequestLimits(app, deps.config, perimeterEvents?.onBlock);
  await registerAccessRules(app, {
    config: deps.config,
    logger,
    redis: deps.redis ?? null,
    onBlock: perimeterEvents?.onBlock,
  });
  registerWaf(app, deps.config, perimeterEvents?.onWafVerdict);

  app.addHook('onResponse', async (request, reply) => {
    // Skips building the log line when the level is off: a gateway at LOG_LEVEL=warn serves
    // thousands of requests per second.
    if (!deps.logger.isLevelEnabled('info')) return;
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? null,
        status: reply.statusCode,
        latencyMs: Math.round(reply.elapsedTime * 100) / 100,
        projectId: request.gatewayGrant?.projectId ?? null,
      },
      'request completed',
    );
  });

  const logFailure = requestFailureLogger();
  app.setErrorHandler(async (error, request, reply) => {
    const appError = toAppError(error);
    if (appError.status >= 500) logFailure(request.log, error, 'request failed');
    return reply.code(appError.status).send(errorBody(appError, request.id));
  });

  app.setNotFoundHandler(async (request, reply) => {
    const error = new AppError(
      'not_found',
      `No route for ${request.method} ${request.url.split('?')[0]}`,
    );
    return reply.code(404).send(errorBody(error, request.id));
  });

  const identity = await createIdentityServices({
    config: deps.config,
    db: deps.db,
    redis: deps.redis ?? null,
    securityEvents: deps.securityEvents ?? null,
    dataProtection: deps.dataProtection ?? null,
  });
  registerAuthorization(app, deps.db, identity.sessions);
  // After the authorization hook: it audits the elevated requests that hook let through.
  await registerAccessControl(app, {
    config: deps.config,
    db: deps.db,
    logger: deps.logger,
    securityEvents: deps.securityEvents ?? null,
  });
  await app.register(changeRequestRoutes, { db: deps.db });
  await app.register(ipAllowlistRoutes, { db: deps.db });
  await app.register(healthRoutes, { db: deps.db });
  await app.register(authRoutes, { identity });
  await app.register(webAuthnRoutes, {
    services: { identity, settings: webAuthnSettingsFromConfig(deps.config) },
  });
  await app.register(organizationRoutes, { db: deps.db });
  await app.register(organizationStatusRoutes, { db: deps.db });
  await app.register(memberRoutes, { db: deps.db });
  await app.register(projectRoutes, { db: deps.db });
  await app.register(toolCallRoutes, { db: deps.db });
  await app.register(apiKeyRoutes, { db: deps.db });
  const providerKeys = deps.dataProtection
    ? new ProviderKeyService(deps.db, deps.dataProtection.fieldCipher, deps.logger)
    : undefined;
  if (providerKeys) await app.register(providerKeyRoutes, { service: providerKeys });
  if (deps.dataProtection) {
    const sso = createSsoServices({
      config: deps.config,
      identity,
      cipher: deps.dataProtection.fieldCipher,
      logger: deps.logger,
    });
    await app.register(ssoRoutes, sso);
  }
  await app.register(securityEventRoutes, {
    db: deps.db,
    operatorOrgId: deps.config.SECURITY_EVENTS_OPERATOR_ORG_ID,
  });
  await app.register(auditRoutes, {
    db: deps.db,
    checkpointer: deps.checkpointer,
    signingKey: deps.signingKey,
  });
  await app.register(gatewayRoutes, {
    config: deps.config,
    db: deps.db,
    upstream: deps.upstream,
    usage: deps.usage,
    ...(providerKeys ? { organizationProviderKeys: providerKeys } : {}),
    ...(deps.rateLimiter
      ? { rateLimits: new GatewayRateLimits(deps.rateLimiter, perimeterEvents?.onBlock) }
      : {}),
  });
  return app;
}
