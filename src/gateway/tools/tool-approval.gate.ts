import type { FastifyBaseLogger } from 'fastify';

import type { Database } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import type { ApiKeyGrant } from '../../tenancy/api-keys/api-key.repository.js';
import { GatewayError } from '../gateway-error.js';
import {
  approvesEveryTool,
  isAutoApproved,
  unapprovedRemoteServers,
  unapprovedServerTools,
} from './auto-approve.js';
import type { ToolCall, ToolResult } from './tool-call.js';
import { findCalls, insertPendingCalls, type ToolCallApproval } from './tool-call.repository.js';
import type { ToolProtocol } from './tool-protocol.js';

/** Returns why one tool result may not be forwarded, or null when it may. */
function rejection(result: ToolResult, row: ToolCallApproval | undefined): string | null {
  const call = result.call;
  if (!call) return `${result.toolCallId} answers a tool call that is not in this conversation`;
  if (!row) return `${call.id} (${call.name}) was never held for approval by this project`;
  if (row.toolName !== call.name || row.argumentsDigest !== call.argumentsDigest) {
    return `${call.id} (${call.name}) differs from the call that was held for approval`;
  }
  if (row.status === 'pending') return `${call.id} (${call.name}) is waiting for approval`;
  if (row.status === 'denied') return `${call.id} (${call.name}) was denied`;
  return null;
}

/**
 * Returns whether a result needs no approval: its call is of a tool the project auto-approves,
 * and no call held under that id was of another tool.
 */
function autoApprovedResult(
  grant: ApiKeyGrant,
  result: ToolResult,
  row: ToolCallApproval | undefined,
): boolean {
  const call = result.call;
  if (!call || !isAutoApproved(grant.settings, call.name)) return false;
  return !row || row.toolName === call.name;
}

/**
 * Governs tool use through the gateway. The client runs the model's tool calls, so the gateway
 * cannot stop a tool from running, but it decides whether the conversation may continue with
 * the tool's result. A call of a tool the project does not
 * auto-approve is held as pending when the model makes it, and a later request carrying its
 * result is refused until a person approves that exact call.
 */
export class ToolApprovalGate {
  constructor(
    private readonly db: Database,
    private readonly logger: FastifyBaseLogger,
  ) {}

  /** Rejects a request that carries results of unapproved calls or unrestricted MCP servers. */
  async checkRequest(grant: ApiKeyGrant, protocol: ToolProtocol, body: unknown): Promise<void> {
    const servers = unapprovedRemoteServers(grant.settings, body);
    if (servers.length > 0) {
      throw new GatewayError(
        'tool_call_not_approved',
        `MCP servers run their tools at the provider, where calls cannot be held for approval; ` +
          `restrict tool_configuration.allowed_tools to auto-approved tools for: ${servers.join(', ')}`,
      );
    }
    const serverTools = unapprovedServerTools(grant.settings, body);
    if (serverTools.length > 0) {
      throw new GatewayError(
        'tool_call_not_approved',
        `Server tools run at the provider, where calls cannot be held for approval; ` +
          `auto-approve them in the project policy or leave them out: ${serverTools.join(', ')}`,
      );
    }
    if (approvesEveryTool(grant.settings)) return;
    const results = protocol.resultsInRequest(body);
    if (results.length === 0) return;

    // Results of auto-approved tools are looked up too: the client writes the history, so a
    // held call's result could otherwise pass under the name of an auto-approved tool.
    const ids = results.map((result) => result.toolCallId);
    const rows = await inTenant(this.db, grant.orgId, (tx) =>
      findCalls(tx, grant.orgId, grant.projectId, ids),
    );
    const byId = new Map(rows.map((row) => [row.toolCallId, row]));
    const reasons = results
      .filter((result) => !autoApprovedResult(grant, result, byId.get(result.toolCallId)))
      .map((result) => rejection(result, byId.get(result.toolCallId)))
      .filter((reason): reason is string => reason !== null);
    if (reasons.length > 0) {
      throw new GatewayError(
        'tool_call_not_approved',
        `Tool results need an approved tool call: ${reasons.join('; ')}`,
      );
    }
  }

  /** Returns the calls among `calls` that need approval under the project's policy. */
  callsToHold(grant: ApiKeyGrant, calls: ToolCall[]): ToolCall[] {
    return calls.filter((call) => !isAutoApproved(grant.settings, call.name));
  }

  /**
   * Records `calls` as pending. A failure is logged, not raised, because the model's response
   * has been paid for and a call that was not recorded can never be approved, so its result
   * stays rejected.
   */
  async hold(
    grant: ApiKeyGrant,
    provider: 'anthropic' | 'openai',
    requestId: string,
    calls: ToolCall[],
  ): Promise<boolean> {
    if (calls.length === 0) return true;
    try {
      await inTenant(this.db, grant.orgId, (tx) =>
        insertPendingCalls(tx, {
          orgId: grant.orgId,
          projectId: grant.projectId,
          apiKeyId: grant.keyId,
          provider,
          requestId,
          calls,
        }),
      );
      return true;
    } catch (error) {
      this.logger.error({ err: error, requestId }, 'failed to hold tool calls for approval');
      return false;
    }
  }
}
