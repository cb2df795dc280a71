import {
  argumentsDigest,
  resultIdOf,
  textArgumentsDigest,
  toolCallOf,
  type ToolCall,
  type ToolResult,
} from './tool-call.js';
import type { StreamToolCollector, ToolProtocol } from './tool-protocol.js';

/** Largest streamed tool input the collector assembles: 1 MiB of JSON text. */
const MAX_STREAMED_INPUT_CHARS = 1024 * 1024;

type Block = { type?: unknown; id?: unknown; name?: unknown; input?: unknown };

function blocksOf(content: unknown): Block[] {
  if (!Array.isArray(content)) return [];
  return content.filter((block): block is Block => block !== null && typeof block === 'object');
}

function messagesOf(body: unknown): { role?: unknown; content?: unknown }[] {
  const messages = (body as { messages?: unknown } | null)?.messages;
  return Array.isArray(messages) ? (messages as { role?: unknown; content?: unknown }[]) : [];
}

/** Returns the tool call of a `tool_use` or `mcp_tool_use` content block, or null. */
function callOfBlock(block: Block): ToolCall | null {
  if (block.type !== 'tool_use' && block.type !== 'mcp_tool_use') return null;
  return toolCallOf(block.id, block.name, argumentsDigest(block.input ?? {}));
}

interface PartialCall {
  id: unknown;
  name: unknown;
  json: string;
  oversize: boolean;
}

class AnthropicStreamCollector implements StreamToolCollector {
  private readonly blocks = new Map<number, PartialCall>();

  wants(line: string): boolean {
    return line.includes('tool_use') || line.includes('input_json_delta');
  }

  add(payload: unknown): void {
    const event = payload as {
      type?: unknown;
      index?: unknown;
      content_block?: Block;
      delta?: { type?: unknown; partial_json?: unknown };
    } | null;
    if (!event || typeof event.index !== 'number') return;
    if (event.type === 'content_block_start') {
      const block = event.content_block;
      if (block?.type !== 'tool_use' && block?.type !== 'mcp_tool_use') return;
      this.blocks.set(event.index, { id: block.id, name: block.name, json: '', oversize: false });
      return;
    }
    const partial = this.blocks.get(event.index);
    const delta = event.delta;
    if (!partial || event.type !== 'content_block_delta' || delta?.type !== 'input_json_delta') {
      return;
    }
    if (typeof delta.partial_json !== 'string') return;
    if (partial.json.length + delta.partial_json.length > MAX_STREAMED_INPUT_CHARS) {
      partial.oversize = true;
      return;
    }
    partial.json += delta.partial_json;
  }

  calls(): ToolCall[] {
    const calls: ToolCall[] = [];
    for (const partial of this.blocks.values()) {
      // An input too large to assemble gets a digest no request can match, so it stays unapproved.
      const digest = partial.oversize
        ? argumentsDigest({ oversize: partial.id })
        : textArgumentsDigest(partial.json === '' ? '{}' : partial.json);
      const call = toolCallOf(partial.id, partial.name, digest);
      if (call) calls.push(call);
    }
    return calls;
  }
}

/** Tool use in the Anthropic Messages API: `tool_use` blocks and `tool_result` replies. */
export const anthropicTools: ToolProtocol = {
  callsInResponse(body) {
    const content = (body as { content?: unknown } | null)?.content;
    return blocksOf(content)
      .map(callOfBlock)
      .filter((call): call is ToolCall => call !== null);
  },

  streamCollector: () => new AnthropicStreamCollector(),

  resultsInRequest(body) {
    const calls = new Map<string, ToolCall>();
    const results: ToolResult[] = [];
    for (const message of messagesOf(body)) {
      for (const block of blocksOf(message.content)) {
        if (message.role === 'assistant') {
          const call = callOfBlock(block);
          if (call) calls.set(call.id, call);
        } else if (block.type === 'tool_result') {
          const id = resultIdOf((block as { tool_use_id?: unknown }).tool_use_id);
          results.push({ toolCallId: id, call: calls.get(id) ?? null });
        }
      }
    }
    return results;
  },

  offersTools(body) {
    const value = body as { tools?: unknown; mcp_servers?: unknown } | null;
    const listed = (list: unknown) => Array.isArray(list) && list.length > 0;
    return listed(value?.tools) || listed(value?.mcp_servers);
  },
};
