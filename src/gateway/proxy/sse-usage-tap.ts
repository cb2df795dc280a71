import { Transform, type TransformCallback } from 'node:stream';

import type { ProviderAdapter, Usage } from '../providers/provider.js';
import type { StreamToolCollector } from '../tools/tool-protocol.js';

// Longest SSE line kept while looking for usage; longer lines are passed on but not parsed.
const MAX_LINE_CHARS = 1024 * 1024;

/** Tokens a stream may use; the tap asks for more before it forwards usage beyond them. */
export interface StreamTokenBudget {
  readonly granted: number;
  /** Resolves true when `total` tokens are now held for the stream. */
  extend(total: number): Promise<boolean>;
}

/** Returns input plus output tokens, counting an unreported side as 0. */
export function totalTokens(usage: Usage): number {
  return (usage.inputTokens ?? 0) + (usage.outputTokens ?? 0);
}

/**
 * A pass-through stream that forwards server-sent events byte for byte and reads the usage
 * the provider reports in them. Only `data:` lines that mention "usage" (or, with a tool
 * collector, a tool call) are parsed, so text chunks cost a substring search. With a budget,
 * a chunk whose reported usage exceeds the tokens held waits for the budget to grow. When it
 * cannot grow, the chunk is replaced by the provider's error event, later chunks are dropped
 * and `budgetExhausted` is emitted.
 */
export class SseUsageTap extends Transform {
  usage: Usage = { inputTokens: null, outputTokens: null };
  /** True once the budget ran out and the stream was cut with an error event. */
  budgetExhausted = false;
  private pending = '';

  constructor(
    private readonly provider: ProviderAdapter,
    private readonly budget?: StreamTokenBudget,
    private readonly tools?: StreamToolCollector,
    private readonly beforeEnd?: () => Promise<void>,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.budgetExhausted) {
      callback();
      return;
    }
    this.scan(chunk.toString('utf8'));
    const used = totalTokens(this.usage);
    if (!this.budget || used <= this.budget.granted) {
      callback(null, chunk);
      return;
    }
    this.budget.extend(used).then(
      (extended) => (extended ? callback(null, chunk) : this.cut(callback, used)),
      () => this.cut(callback, used),
    );
  }

  private cut(callback: TransformCallback, used: number): void {
    this.budgetExhausted = true;
    const message = `This API key's token limit was reached while streaming (${used} tokens used)`;
    callback(null, this.provider.streamErrorEvent('rate_limited', message));
    this.emit('budgetExhausted');
  }

  override _flush(callback: TransformCallback): void {
    this.scan('\n');
    if (!this.beforeEnd) {
      callback();
      return;
    }
    // The response ends only after this work, so a client that has read the whole stream can
    // rely on it (the held tool calls are recorded by then).
    this.beforeEnd().then(
      () => callback(),
      () => callback(),
    );
  }

  private scan(text: string): void {
    const lines = (this.pending + text).split('\n');
    this.pending = lines.pop() ?? '';
    if (this.pending.length > MAX_LINE_CHARS) this.pending = '';
    for (const line of lines) {
      if (!line.startsWith('data:')) continue;
      const hasUsage = line.includes('usage');
      const hasTool = this.tools?.wants(line) ?? false;
      if (!hasUsage && !hasTool) continue;
      try {
        const event: unknown = JSON.parse(line.slice(5));
        if (hasUsage) this.usage = this.provider.usageFromEvent(event, this.usage);
        if (hasTool) this.tools?.add(event);
      } catch {
        // A data line that is not JSON carries no usage; it is still forwarded unchanged.
      }
    }
  }
}
