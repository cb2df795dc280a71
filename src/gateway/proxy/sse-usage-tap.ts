import { Transform, type TransformCallback } from 'node:stream';

import type { ProviderAdapter, Usage } from '../providers/provider.js';

// Longest SSE line kept while looking for usage; longer lines are passed on but not parsed.
const MAX_LINE_CHARS = 1024 * 1024;

/**
 * A pass-through stream that forwards server-sent events byte for byte and reads the usage
 * the provider reports in them. Only `data:` lines that mention "usage" are parsed, so text
 * chunks cost one substring search.
 */
export class SseUsageTap extends Transform {
  usage: Usage = { inputTokens: null, outputTokens: null };
  private pending = '';

  constructor(private readonly provider: ProviderAdapter) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.scan(chunk.toString('utf8'));
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.scan('\n');
    callback();
  }

  private scan(text: string): void {
    const lines = (this.pending + text).split('\n');
    this.pending = lines.pop() ?? '';
    if (this.pending.length > MAX_LINE_CHARS) this.pending = '';
    for (const line of lines) {
      if (!line.startsWith('data:') || !line.includes('usage')) continue;
      try {
        const event: unknown = JSON.parse(line.slice(5));
        this.usage = this.provider.usageFromEvent(event, this.usage);
      } catch {
        // A data line that is not JSON carries no usage; it is still forwarded unchanged.
      }
    }
  }
}
