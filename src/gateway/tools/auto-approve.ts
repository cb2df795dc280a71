import type { ProjectSettings } from '../../tenancy/projects/project.schema.js';

/**
 * Returns whether the project lets the client run `toolName` without a person approving it.
 * `mcpAutoApprove: true` approves every tool, a list approves the tools it names, and a
 * missing or `false` setting approves none.
 */
export function isAutoApproved(settings: ProjectSettings, toolName: string): boolean {
  const setting = settings.mcpAutoApprove;
  if (setting === true) return true;
  return Array.isArray(setting) && setting.includes(toolName);
}

/** Returns whether no tool call needs approval, so the gateway can skip looking for them. */
export function approvesEveryTool(settings: ProjectSettings): boolean {
  return settings.mcpAutoApprove === true;
}

type RemoteServer = { name?: unknown; tool_configuration?: { allowed_tools?: unknown } | null };

/**
 * Remote MCP servers named in an Anthropic request (`mcp_servers`) run their tools at the
 * provider, where no approval can intervene. Such a request may go out only when each server
 * is restricted (`tool_configuration.allowed_tools`) to tools the project auto-approves.
 * Returns the names of the servers that are not so restricted.
 */
export function unapprovedRemoteServers(settings: ProjectSettings, body: unknown): string[] {
  const servers = (body as { mcp_servers?: unknown } | null)?.mcp_servers;
  if (!Array.isArray(servers) || approvesEveryTool(settings)) return [];
  const rejected: string[] = [];
  for (const server of servers as RemoteServer[]) {
    const allowed = server?.tool_configuration?.allowed_tools;
    const restricted =
      Array.isArray(allowed) &&
      allowed.every((tool) => typeof tool === 'string' && isAutoApproved(settings, tool));
    if (!restricted) rejected.push(typeof server?.name === 'string' ? server.name : '(unnamed)');
  }
  return rejected;
}

// Anthropic server tools (`web_search_20250305`, `web_fetch_20250910`, `code_execution_20250825`
// and later versions) run at the provider, like remote MCP servers, so no call can be held.
const SERVER_TOOL_TYPE = /^(web_search|web_fetch|code_execution)_/;

/**
 * Returns the names of Anthropic server tools in the request (`tools` entries whose `type` is
 * a server tool) that the project does not auto-approve. Such a request may not go out, since
 * the provider would run their calls before anyone could approve them.
 */
export function unapprovedServerTools(settings: ProjectSettings, body: unknown): string[] {
  const tools = (body as { tools?: unknown } | null)?.tools;
  if (!Array.isArray(tools) || approvesEveryTool(settings)) return [];
  const rejected: string[] = [];
  for (const tool of tools as { type?: unknown; name?: unknown }[]) {
    if (typeof tool?.type !== 'string' || !SERVER_TOOL_TYPE.test(tool.type)) continue;
    const name = typeof tool.name === 'string' ? tool.name : tool.type;
    if (!isAutoApproved(settings, name)) rejected.push(name);
  }
  return rejected;
}
