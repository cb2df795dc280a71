import type { ServerResponse } from 'node:http';

/** A tool call that the fake provider's model makes in place of a text reply. */
export interface FakeToolCall {
  id: string;
  name: string;
  input: Record<string, unknown>;
}

const sseHeaders = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

// The arguments JSON split in two pieces, as providers stream it.
function halves(text: string): [string, string] {
  const middle = Math.floor(text.length / 2);
  return [text.slice(0, middle), text.slice(middle)];
}

/** Replies to an Anthropic Messages call with a `tool_use` block, plain or streamed. */
export function anthropicToolAnswer(
  res: ServerResponse,
  model: string,
  stream: boolean,
  call: FakeToolCall,
): void {
  const message = {
    id: 'msg_fake_tool',
    type: 'message',
    role: 'assistant',
    model,
    content: [
      { type: 'text', text: 'Let me look that up.' },
      { type: 'tool_use', id: call.id, name: call.name, input: call.input },
    ],
    stop_reason: 'tool_use',
    stop_sequence: null,
    usage: { input_tokens: 20, output_tokens: 15 },
  };
  if (!stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(message));
    return;
  }
  const event = (type: string, data: unknown) =>
    `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
  const [first, second] = halves(JSON.stringify(call.input));
  res.writeHead(200, sseHeaders);
  for (const text of [
    event('message_start', {
      type: 'message_start',
      message: {
        ...message,
        content: [],
        stop_reason: null,
        usage: { input_tokens: 20, output_tokens: 1 },
      },
    }),
    event('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} },
    }),
    ...[first, second].map((piece) =>
      event('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'input_json_delta', partial_json: piece },
      }),
    ),
    event('content_block_stop', { type: 'content_block_stop', index: 0 }),
    event('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: { output_tokens: 15 },
    }),
    event('message_stop', { type: 'message_stop' }),
  ]) {
    res.write(text);
  }
  res.end();
}

/** Replies to an OpenAI Chat Completions call with `tool_calls`, plain or streamed. */
export function openaiToolAnswer(
  res: ServerResponse,
  model: string,
  stream: boolean,
  call: FakeToolCall,
): void {
  const args = JSON.stringify(call.input);
  const base = { id: 'chatcmpl-fake-tool', created: 1_700_000_000, model };
  if (!stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        ...base,
        object: 'chat.completion',
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: null,
              refusal: null,
              tool_calls: [
                { id: call.id, type: 'function', function: { name: call.name, arguments: args } },
              ],
            },
            finish_reason: 'tool_calls',
            logprobs: null,
          },
        ],
        usage: { prompt_tokens: 20, completion_tokens: 15, total_tokens: 35 },
      }),
    );
    return;
  }
  const chunk = (delta: Record<string, unknown>, finish: string | null) =>
    `data: ${JSON.stringify({
      ...base,
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta, finish_reason: finish }],
    })}\n\n`;
  const [first, second] = halves(args);
  res.writeHead(200, sseHeaders);
  for (const text of [
    chunk(
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { index: 0, id: call.id, type: 'function', function: { name: call.name, arguments: '' } },
        ],
      },
      null,
    ),
    ...[first, second].map((piece) =>
      chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }, null),
    ),
    chunk({}, 'tool_calls'),
    'data: [DONE]\n\n',
  ]) {
    res.write(text);
  }
  res.end();
}
