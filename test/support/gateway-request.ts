import type { TestServer } from './test-server.js';

/** Sends a JSON POST with the test server's gateway API key and returns the status and body text. */
export async function postGateway(
  t: TestServer,
  path: string,
  body: unknown,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${t.url}${path}`, {
    method: 'POST',
    headers: {
      'x-api-key': t.boot.apiKey,
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}
