import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';

import type { Config } from '../config/config.schema.js';
import type { Database } from '../data/database/database.js';
import { toAppError } from '../http/fastify-errors.js';
import { requestFailureLogger } from '../http/outage-log.js';
import {
  ipLimitRejection,
  type GatewayRateLimits,
} from '../perimeter/rate-limit/rate-limit.http.js';
import type { TokenReservation } from '../perimeter/rate-limit/token-reservation.js';
import { requestContext } from '../http/request-context.hook.js';
import { fieldIssues } from '../http/validation.js';
import { maskApiKey } from '../tenancy/api-keys/api-key-secret.js';
import type { ApiKeyGrant } from '../tenancy/api-keys/api-key.repository.js';
import { ApiKeyAllowlists } from '../network/ip-allowlist.service.js';
import { enforceApiKeyAllowlist } from './auth/api-key-allowlist.js';
import { ApiKeyAuthenticator, keyRejectionError } from './auth/api-key-authenticator.js';
import { presentedApiKey } from './auth/presented-api-key.js';
import { GatewayError } from './gateway-error.js';
import { acceptedModels, permittedModel } from './policy/model-policy.js';
import { anthropicProvider } from './providers/anthropic.provider.js';
import { openaiProvider } from './providers/openai.provider.js';
import type { ParsedCall, ProviderAdapter } from './providers/provider.js';
import { forwardCall, type CallOutcome, type ForwardOptions } from './proxy/forward-call.js';
import { totalTokens } from './proxy/sse-usage-tap.js';
import { modelList } from './models-response.js';
import type { ProviderKeyResolver } from './provider-keys/provider-key.service.js';
import type { UpstreamClient } from './upstream/upstream-client.js';
import type { UsageRecorder } from './usage/usage-recorder.js';
import { anthropicTools } from './tools/anthropic-tools.js';
import { approvesEveryTool } from './tools/auto-approve.js';
import { openaiTools } from './tools/openai-tools.js';
import { ToolApprovalGate } from './tools/tool-approval.gate.js';
import type { ToolProtocol } from './tools/tool-protocol.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The API key grant of a gateway request, once authenticated. */
    gatewayGrant: ApiKeyGrant | null;
  }
}

export interface GatewayOptions {
  config: Config;
  db: Database;
  upstream: UpstreamClient;
  usage: UsageRecorder;
  authenticator?: ApiKeyAuthenticator;
  /** Keys stored per organization, used in place of the configured provider keys. */
  organizationProviderKeys?: ProviderKeyResolver;
  /** Per-API-key request and token limits; none are applied when absent. */
  rateLimits?: GatewayRateLimits;
}

/**
 * Returns the tokens a finished call is charged: input plus output as reported. When the
 * provider reported nothing, a successful call keeps its reservation and a failed one is free.
 */
function chargedTokens(outcome: CallOutcome, reservation: TokenReservation): number {
  const { inputTokens, outputTokens } = outcome.usage;
  if (inputTokens !== null || outputTokens !== null) return totalTokens(outcome.usage);
  return outcome.status < 400 ? reservation.granted : 0;
}

/** A call that passed every check before forwarding, with its resolved model. */
interface PreparedCall {
  call: ParsedCall & Record<string, unknown>;
  /** Whether tool calls in the response are held for approval. */
  holdsTools: boolean;
  providerKey: string;
}

function ignoreRejection(): undefined {
  return undefined;
}

const TOOL_PROTOCOLS: Readonly<Record<ProviderAdapter['name'], ToolProtocol>> = {
  anthropic: anthropicTools,
  openai: openaiTools,
};

// Each chat route has one API. `/v1/models` serves both SDKs: the Anthropic SDK always sends
// an anthropic-version header and the OpenAI SDK never does. A client that sends neither, such
// as curl, gets errors in the shape of the key header it used: `x-api-key` is Anthropic's and
// `Authorization: Bearer` is OpenAI's.
function providerOfRequest(request: FastifyRequest): ProviderAdapter {
  if (request.url.startsWith('/v1/messages')) return anthropicProvider;
  if (request.url.startsWith('/v1/chat/')) return openaiProvider;
  const { headers } = request;
  if (headers['anthropic-version'] !== undefined) return anthropicProvider;
  return headers['x-api-key'] !== undefined && headers.authorization === undefined
    ? anthropicProvider
    : openaiProvider;
}

/**
 * The AI gateway: `POST /v1/messages` (Anthropic), `POST /v1/chat/completions` (OpenAI) and
 * `GET /v1/models`. Every error is rendered in the error shape of the API the client called.
 */
export const gatewayRoutes: FastifyPluginAsync<GatewayOptions> = async (app, options) => {
  const authenticator = options.authenticator ?? new ApiKeyAuthenticator(options.db);
  const ipAllowlists = new ApiKeyAllowlists(options.db);
  const toolGate = new ToolApprovalGate(options.db, app.log);
  // Read at each call, because SIGHUP replaces rotated keys in the config object.
  const serverProviderKey = (provider: ProviderAdapter['name']): string | undefined =>
    provider === 'anthropic' ? options.config.ANTHROPIC_API_KEY : options.config.OPENAI_API_KEY;
  const baseUrls = {
    anthropic: options.config.ANTHROPIC_BASE_URL,
    openai: options.config.OPENAI_BASE_URL,
  };

  app.decorateRequest('gatewayGrant', null);
  const logFailure = requestFailureLogger();

  app.setErrorHandler(async (thrown, request, reply) => {
    // A request over its per-IP limit gets that 429 whatever else failed, as if the limit had
    // been checked first.
    const error = (await ipLimitRejection(request, reply)) ?? thrown;
    const failure = error instanceof GatewayError ? error : toAppError(error);
    if (failure.status >= 500 && !(error instanceof GatewayError)) {
      logFailure(request.log, error, 'gateway request failed');
    }
    if (error instanceof GatewayError && error.retryAfterSeconds !== undefined) {
      reply.header('retry-after', String(error.retryAfterSeconds));
    }
    const provider = providerOfRequest(request);
    return reply
      .code(failure.status)
      .send(provider.errorBody(failure.code, failure.status, failure.message));
  });

  // A client over its per-IP limit gets its 429 before a key lookup in the database, so the
  // IP limit still keeps a flood of made-up keys away from it. A cached key skips the wait.
  async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<ApiKeyGrant> {
    const awaitIpLimit = async () => {
      const rejection = await ipLimitRejection(request, reply);
      if (rejection) throw rejection;
    };
    const check = await authenticator.verify(
      presentedApiKey(request.headers),
      Date.now(),
      awaitIpLimit,
    );
    if (!check.ok) throw keyRejectionError(check.reason);
    await enforceApiKeyAllowlist(ipAllowlists, check.grant, request);
    request.gatewayGrant = check.grant;
    return check.grant;
  }

  /**
   * Checks and resolves a call before it is forwarded: the audit log is writable, the body is
   * valid, the model is allowed, tool results are approved and a provider key exists. It sets
   * the resolved model on the body and the tool-approval header on the reply.
   */
  async function prepareCall(
    provider: ProviderAdapter,
    request: FastifyRequest,
    reply: FastifyReply,
    grant: ApiKeyGrant,
  ): Promise<PreparedCall> {
    // Fail closed: a call that could not be audited is not made.
    if (!options.usage.healthy()) {
      throw new GatewayError(
        'service_unavailable',
        'The audit log cannot be written right now, so calls are refused; try again shortly',
      );
    }

    const parsed = provider.requestSchema.safeParse(request.body);
    if (!parsed.success) {
      const detail = fieldIssues(parsed.error)
        .map((issue) => `${issue.field}: ${issue.message}`)
        .join('; ');
      throw new GatewayError('validation_failed', `Invalid request: ${detail}`);
    }
    const call = parsed.data;
    const model = permittedModel(grant, call.model);
    if (!model) {
      throw new GatewayError(
        'model_not_allowed',
        `Model "${call.model}" is not allowed for this project`,
      );
    }
    // The provider receives the resolved snapshot, never an alias it could repoint.
    call.model = model;
    (request.body as Record<string, unknown>).model = model;

    // Tool results are forwarded only for approved calls. Calls in the response of tools that
    // the project does not auto-approve are held for approval.
    const tools = TOOL_PROTOCOLS[provider.name];
    await toolGate.checkRequest(grant, tools, request.body);
    const holdsTools = !approvesEveryTool(grant.settings) && tools.offersTools(request.body);
    if (holdsTools) reply.header('x-mindweave-tool-approval', 'required');
    const providerKey =
      (await options.organizationProviderKeys?.resolve(grant.orgId, provider.name)) ??
      serverProviderKey(provider.name);
    if (!providerKey) {
      throw new GatewayError(
        'service_unavailable',
        `No ${provider.name} provider key is configured on this MindWeave server`,
      );
    }
    return { call, holdsTools, providerKey };
  }

  /**
   * Builds the forwarding options of a prepared call. Tool calls in the response are held for
   * approval when the project does not auto-approve every offered tool.
   */
  function forwardOptions(
    provider: ProviderAdapter,
    request: FastifyRequest,
    reply: FastifyReply,
    grant: ApiKeyGrant,
    prepared: PreparedCall,
    reservation: TokenReservation | undefined,
  ): ForwardOptions {
    const { call, providerKey } = prepared;
    const forward: ForwardOptions = {
      provider,
      upstream: options.upstream,
      url: provider.upstreamUrl(baseUrls[provider.name]),
      providerKey,
      call,
    };
    if (reservation) forward.tokenBudget = reservation;
    if (!prepared.holdsTools) return forward;

    const tools = TOOL_PROTOCOLS[provider.name];
    if (call.stream) {
      const toolCollector = tools.streamCollector();
      forward.toolCollector = toolCollector;
      forward.beforeStreamEnd = async () => {
        const held = toolGate.callsToHold(grant, toolCollector.calls());
        await toolGate.hold(grant, provider.name, request.id, held);
      };
    } else {
      forward.beforeSend = async (body: unknown) => {
        const held = toolGate.callsToHold(grant, tools.callsInResponse(body));
        if (held.length === 0) return;
        await toolGate.hold(grant, provider.name, request.id, held);
        reply.header('x-mindweave-pending-tool-calls', held.map((held) => held.id).join(','));
      };
    }
    return forward;
  }

  async function handleCall(
    provider: ProviderAdapter,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply> {
    const started = performance.now();
    const context = requestContext(request);
    const grant = await authenticate(request, reply);
    // The per-key request check starts now and is awaited together with the token
    // reservation below, so with Redis both go out in one round trip instead of two.
    const keyCheck = options.rateLimits?.checkKeyRequest(request, reply, grant.keyId);
    // A failure raised before the check is awaited must not leave its rejection unhandled.
    keyCheck?.catch(ignoreRejection);

    let prepared: PreparedCall;
    try {
      prepared = await prepareCall(provider, request, reply, grant);
    } catch (error) {
      // A key over its request limit gets 429 before any other rejection, as if checked first.
      await keyCheck;
      throw error;
    }
    const { call } = prepared;

    const record = (outcome: CallOutcome) =>
      options.usage.record({
        context,
        orgId: grant.orgId,
        projectId: grant.projectId,
        apiKeyId: grant.keyId,
        maskedKey: maskApiKey(grant.prefix, grant.lastFour),
        provider: provider.name,
        model: call.model,
        streamed: call.stream,
        status: outcome.status,
        errorCode: outcome.errorCode,
        inputTokens: outcome.usage.inputTokens,
        outputTokens: outcome.usage.outputTokens,
        latencyMs: Math.round(performance.now() - started),
      });

    // The call reserves its worst-case output (max_tokens) before going upstream, so parallel
    // calls cannot together reserve past the key's token limit. The reservation is then
    // settled to the reported usage.
    // NOTE: input tokens are unknown until the provider reports them, so they are charged only
    // at settlement and a key can end its window above the limit by the calls in flight.
    const reserving = options.rateLimits?.reserveTokens(reply, grant.keyId, call.maxTokens);
    // Both are awaited before either result is used, so a rejected reservation must not be
    // reported as unhandled while the key check is pending.
    reserving?.catch(ignoreRejection);
    try {
      await keyCheck;
    } catch (error) {
      // The key check's rejection wins, and a reservation that was granted is given back.
      const granted = await reserving?.catch(ignoreRejection);
      await granted?.settle(0);
      throw error;
    }
    const reservation = await reserving;

    try {
      const outcome = await forwardCall(
        request,
        reply,
        forwardOptions(provider, request, reply, grant, prepared, reservation),
      );
      record(outcome);
      await reservation?.settle(chargedTokens(outcome, reservation));
      return reply;
    } catch (error) {
      const failure = error instanceof GatewayError ? error : toAppError(error);
      const outcome: CallOutcome = {
        status: failure.status,
        errorCode: failure.code,
        usage: { inputTokens: null, outputTokens: null },
      };
      record(outcome);
      await reservation?.settle(chargedTokens(outcome, reservation));
      throw error;
    }
  }

  const apiKeyRoute = { config: { security: { auth: 'api_key' } } } as const;

  app.post('/v1/messages', apiKeyRoute, (request, reply) =>
    handleCall(anthropicProvider, request, reply),
  );

  app.post('/v1/chat/completions', apiKeyRoute, (request, reply) =>
    handleCall(openaiProvider, request, reply),
  );

  app.get('/v1/models', apiKeyRoute, async (request, reply) => {
    const grant = await authenticate(request, reply);
    await options.rateLimits?.checkKeyRequest(request, reply, grant.keyId);
    return modelList(acceptedModels(grant));
  });
};
