import { randomUUID } from 'node:crypto';

import type { GatewayCall } from '../../src/gateway/usage/gateway-call.js';
import type { BootstrapResult } from '../../src/tenancy/bootstrap.service.js';

/** Builds `count` finished calls of the bootstrapped key, each with its own request id. */
export function gatewayCalls(
  boot: Pick<BootstrapResult, 'orgId' | 'projectId' | 'apiKeyId'>,
  count: number,
  overrides: Partial<GatewayCall> = {},
): GatewayCall[] {
  return Array.from({ length: count }, () => ({
    context: { requestId: randomUUID(), ip: '127.0.0.1', userAgent: 'recorder-test' },
    orgId: boot.orgId,
    projectId: boot.projectId,
    apiKeyId: boot.apiKeyId,
    maskedKey: 'mw_live_test…',
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    streamed: false,
    status: 200,
    errorCode: null,
    inputTokens: 3,
    outputTokens: 5,
    latencyMs: 2,
    ...overrides,
  }));
}

/** Returns the request ids of `calls`, as stored in `gateway_requests.request_id`. */
export const requestIdsOf = (calls: GatewayCall[]) => calls.map((call) => call.context.requestId);
