import type { ToolCall, ToolResult } from './tool-call.js';

/** Collects the tool calls of a streamed response from its server-sent event data lines. */
export interface StreamToolCollector {
  /** Whether a data line may carry part of a tool call; only those are parsed. */
  wants(line: string): boolean;
  /** Reads one `data:` payload (JSON text). */
  add(payload: unknown): void;
  /** The complete tool calls seen so far. */
  calls(): ToolCall[];
}

/** The spelling of tool calls in responses and tool results in requests, per provider API. */
export interface ToolProtocol {
  /** Tool calls in a complete JSON response. */
  callsInResponse(body: unknown): ToolCall[];
  /** A collector for one streamed response. */
  streamCollector(): StreamToolCollector;
  /** Tool results in a request body, each with the call it replies to from the same history. */
  resultsInRequest(body: unknown): ToolResult[];
  /** Returns whether the request offers the model any tools, so its response may call one. */
  offersTools(body: unknown): boolean;
}
