import type { RequestContext } from '../../http/request-context.js';

/** One proxied call as recorded after it ends. */
export interface GatewayCall {
  context: RequestContext;
  orgId: string;
  projectId: string;
  apiKeyId: string;
  maskedKey: string;
  provider: 'anthropic' | 'openai';
  model: string;
  streamed: boolean;
  status: number;
  errorCode: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  latencyMs: number;
}
