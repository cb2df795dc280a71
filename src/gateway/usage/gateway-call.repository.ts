import type { Queryable } from '../../data/database/database.js';
import type { GatewayCall } from './gateway-call.js';

/**
 * Inserts call rows with one INSERT that reads them from a single JSON parameter, so the main
 * thread serializes the batch once in place of binding 12 parameters per call.
 */
export async function insertGatewayCalls(db: Queryable, calls: GatewayCall[]): Promise<void> {
  if (calls.length === 0) return;
  const rows = calls.map((call) => ({
    request_id: call.context.requestId,
    org_id: call.orgId,
    project_id: call.projectId,
    api_key_id: call.apiKeyId,
    provider: call.provider,
    model: call.model,
    streamed: call.streamed,
    status: call.status,
    error_code: call.errorCode,
    input_tokens: call.inputTokens,
    output_tokens: call.outputTokens,
    latency_ms: call.latencyMs,
  }));
  // NULL::gateway_requests gives every column its declared type. The column list leaves out
  // `id` and `created_at`, so the insert fills them from their defaults.
  await db.query(
    `INSERT INTO gateway_requests (request_id, org_id, project_id, api_key_id, provider, model,
       streamed, status, error_code, input_tokens, output_tokens, latency_ms)
     SELECT request_id, org_id, project_id, api_key_id, provider, model,
       streamed, status, error_code, input_tokens, output_tokens, latency_ms
       FROM json_populate_recordset(NULL::gateway_requests, $1::json)`,
    [JSON.stringify(rows)],
  );
}
