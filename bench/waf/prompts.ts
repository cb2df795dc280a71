/* eslint-disable security/detect-non-literal-fs-filename -- corpus paths come from the command line or the repository */
import { existsSync, readFileSync } from 'node:fs';

import type { BenchCase } from './corpus.js';
import { buildRequest } from './corpus.js';

/** Benign prompt fixture: prompts that contain code and must pass the WAF. */
export interface PromptFixture {
  prompts: Array<{ id: string; text: string }>;
}

/**
 * Builds gateway requests from the benign prompt fixture, alternating between the
 * Anthropic-style `/v1/messages` and OpenAI-style `/v1/chat/completions` bodies.
 */
export function loadPromptCases(path: string): BenchCase[] {
  if (!existsSync(path)) return [];
  const fixture = JSON.parse(readFileSync(path, 'utf8')) as PromptFixture;
  return fixture.prompts.map((prompt, index) => {
    const messages = index % 2 === 0;
    const route = messages ? '/v1/messages' : '/v1/chat/completions';
    const body = JSON.stringify({
      model: messages ? 'claude-sonnet-4-5' : 'gpt-4o-mini',
      max_tokens: 1024,
      messages: [{ role: 'user', content: prompt.text }],
    });
    const headers: Array<[string, string]> = [
      ['Host', '127.0.0.1'],
      ['Content-Type', 'application/json'],
      ['User-Agent', messages ? 'Anthropic/JS 0.39.0' : 'OpenAI/JS 4.77.0'],
      ['Authorization', 'Bearer mw_test_0123456789abcdef'],
    ];
    const request = buildRequest('POST', route, headers, body);
    request.bodyKind = 'prompt';
    request.routeId = messages ? 'gateway.messages' : 'gateway.chat-completions';
    return {
      id: `prompt:${prompt.id}`,
      family: 'benign-prompts',
      paranoia: 1,
      attack: false,
      strictBenign: true,
      request,
      raw: undefined,
    };
  });
}
