/**
 * Builds the action part of a mail that carries a token: a link when a web page is configured
 * for it, and otherwise the token with the API call that uses it. The token goes in the URL
 * fragment, which browsers do not send to the server that serves the page.
 */
export function tokenInstructions(
  linkBaseUrl: string | null,
  page: string,
  token: string,
  apiCall: string,
): string {
  if (linkBaseUrl) return `${linkBaseUrl}/${page}#token=${token}`;
  return [`Token: ${token}`, '', `Send it with ${apiCall}.`].join('\n');
}
