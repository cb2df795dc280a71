import { expect } from 'vitest';

/** The error shape a route responds with. */
export type ErrorShape = 'admin' | 'anthropic' | 'openai';

/** A response with its body read as text and, when it parses, as JSON. */
export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** Sends one request with a raw body and reads the whole response. */
export async function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<RawResponse> {
  const response = await fetch(url, { method, headers, body });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

const sortedKeys = (value: unknown) => Object.keys(value as object).sort();

/**
 * Checks that a 4xx response has the error shape of its API: `{ error, code, details?,
 * requestId }` for the admin API, `{ type: 'error', error: { type, message } }` for
 * Anthropic and `{ error: { message, type, param, code } }` for OpenAI.
 */
export function expectErrorShape(response: RawResponse, shape: ErrorShape, label: string): void {
  expect(response.headers.get('content-type'), label).toContain('application/json');
  const body = response.json as Record<string, unknown> | undefined;
  expect(body, label).toBeTypeOf('object');
  if (shape === 'admin') {
    const keys = sortedKeys(body).filter((key) => key !== 'details');
    expect(keys, label).toEqual(['code', 'error', 'requestId']);
    expect(body?.requestId, label).toBe(response.headers.get('x-request-id'));
    expect(typeof body?.error, label).toBe('string');
    if (body?.details !== undefined) {
      for (const issue of body.details as Record<string, unknown>[]) {
        expect(sortedKeys(issue), label).toEqual(['field', 'message']);
      }
    }
    return;
  }
  if (shape === 'anthropic') {
    expect(sortedKeys(body), label).toEqual(['error', 'type']);
    expect(body?.type, label).toBe('error');
    const error = body?.error as Record<string, unknown>;
    expect(sortedKeys(error), label).toEqual(['message', 'type']);
    expect(typeof error.message, label).toBe('string');
    return;
  }
  expect(sortedKeys(body), label).toEqual(['error']);
  const error = body?.error as Record<string, unknown>;
  expect(sortedKeys(error), label).toEqual(['code', 'message', 'param', 'type']);
  expect(typeof error.message, label).toBe('string');
}
