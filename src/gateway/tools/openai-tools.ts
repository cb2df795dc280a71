import {
  resultIdOf,
  textArgumentsDigest,
  toolCallOf,
  type ToolCall,
  type ToolResult,
} from './tool-call.js';
import type { StreamToolCollector, ToolProtocol } from './tool-protocol.js';

/** Largest streamed tool arguments the collector assembles: 1 MiB of JSON text. */
const MAX_STREAMED_ARGUMENTS_CHARS = 1024 * 1024;

type FunctionCall = {
  id?: unknown;
  index?: unknown;
  function?: { name?: unknown; arguments?: unknown };
};

function callOf(entry: FunctionCall): ToolCall | null {
  const args = entry.function?.arguments;
  return toolCallOf(
    entry.id,
    entry.function?.name,
    textArgumentsDigest(typeof args === 'string' ? args : ''),
  );
}

function listOf<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

interface PartialCall {
  id: unknown;
  name: unknown;
  args: string;
  oversize: boolean;
}

class OpenAiStreamCollector implements StreamToolCollector {
  private readonly partials = new Map<string, PartialCall>();

  wants(line: string): boolean {
    return line.includes('tool_calls');
  }

  add(payload: unknown): void {
    const choices = listOf<{ index?: unknown; delta?: { tool_calls?: unknown } }>(
      (payload as { choices?: unknown } | null)?.choices,
    );
    for (const choice of choices) {
      for (const entry of listOf<FunctionCall>(choice?.delta?.tool_calls)) {
        if (!entry || typeof entry.index !== 'number') continue;
        const key = `${String(choice.index)}:${entry.index}`;
        let partial = this.partials.get(key);
        if (!partial) {
          partial = { id: undefined, name: undefined, args: '', oversize: false };
          this.partials.set(key, partial);
        }
        if (typeof entry.id === 'string') partial.id = entry.id;
        if (typeof entry.function?.name === 'string') partial.name = entry.function.name;
        const piece = entry.function?.arguments;
        if (typeof piece !== 'string') continue;
        if (partial.args.length + piece.length > MAX_STREAMED_ARGUMENTS_CHARS) {
          partial.oversize = true;
        } else {
          partial.args += piece;
        }
      }
    }
  }

  calls(): ToolCall[] {
    const calls: ToolCall[] = [];
    for (const partial of this.partials.values()) {
      // Arguments too large to assemble get a digest no request can match.
      const args = partial.oversize ? `oversize:${String(partial.id)}` : partial.args;
      const call = toolCallOf(partial.id, partial.name, textArgumentsDigest(args));
      if (call) calls.push(call);
    }
    return calls;
  }
}

/** Tool use in OpenAI Chat Completions: `tool_calls` and `role: "tool"` replies. */
export const openaiTools: ToolProtocol = {
  callsInResponse(body) {
    const choices = listOf<{ message?: { tool_calls?: unknown } }>(
      (body as { choices?: unknown } | null)?.choices,
    );
    return choices
      .flatMap((choice) => listOf<FunctionCall>(choice?.message?.tool_calls))
      .map((entry) => (entry && typeof entry === 'object' ? callOf(entry) : null))
      .filter((call): call is ToolCall => call !== null);
  },

  streamCollector: () => new OpenAiStreamCollector(),

  resultsInRequest(body) {
    const calls = new Map<string, ToolCall>();
    const results: ToolResult[] = [];
    const messages = listOf<{ role?: unknown; tool_calls?: unknown; tool_call_id?: unknown }>(
      (body as { messages?: unknown } | null)?.messages,
    );
    for (const message of messages) {
      if (message?.role === 'assistant') {
        for (const entry of listOf<FunctionCall>(message.tool_calls)) {
          const call = entry && typeof entry === 'object' ? callOf(entry) : null;
          if (call) calls.set(call.id, call);
        }
      } else if (message?.role === 'tool') {
        const id = resultIdOf(message.tool_call_id);
        results.push({ toolCallId: id, call: calls.get(id) ?? null });
      }
    }
    return results;
  },

  offersTools(body) {
    const value = body as { tools?: unknown; functions?: unknown } | null;
    return listOf(value?.tools).length > 0 || listOf(value?.functions).length > 0;
  },
};
