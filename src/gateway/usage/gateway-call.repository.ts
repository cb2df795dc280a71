import type { Queryable } from '../../data/database/database.js';
import type { GatewayCall } from './gateway-call.js';

/** Inserts call rows with one multi-row INSERT. */
export async function insertGatewayCalls(db: Queryable, calls: GatewayCall[]): Promise<void> {
  if (calls.length === 0) return;
  const params: unknown[] = [];
  const rows = calls.map((call) => {
    const values = [
      call.context.requestId,
      call.orgId,
      call.projectId,
      call.apiKeyId,
      call.provider,
      call.model,
      call.streamed,
      call.status,
      call.errorCode,
      call.inputTokens,
      call.outputTokens,
      call.latencyMs,
    ];
    const placeholders = values.map((value) => {
      params.push(value);
      return `$${params.length}`;
    });
    return `(${placeholders.join(', ')})`;
  });
  await db.query(
    `INSERT INTO gateway_requests (request_id, org_id, project_id, api_key_id, provider, model,
       streamed, status, error_code, input_tokens, output_tokens, latency_ms)
     VALUES ${rows.join(', ')}`,
    params,
  );
}
