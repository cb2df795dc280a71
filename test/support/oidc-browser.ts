/** Cookies of one simulated browser, by name; paths and domains are not tracked. */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  /** Stores the cookies of a response's Set-Cookie fields; an empty value or Max-Age=0 drops one. */
  store(response: Response): void {
    for (const field of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = field.split(';');
      const separator = pair.indexOf('=');
      const name = pair.slice(0, separator).trim();
      const value = pair.slice(separator + 1).trim();
      const expired = attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute));
      if (value === '' || expired) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  get(name: string): string | undefined {
    return this.#cookies.get(name);
  }

  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/** Sends one request as the browser would, without following redirects. */
export async function browse(
  jar: CookieJar,
  url: string,
  init: { method?: string; form?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { 'user-agent': 'mindweave-sso-test/1' };
  const cookie = jar.header();
  if (cookie) headers.cookie = cookie;
  let body: string | undefined;
  if (init.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  }
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers,
    body,
    redirect: 'manual',
  });
  jar.store(response);
  return response;
}

/**
 * Follows the provider's redirects from `authorizationUrl` and submits its development login
 * form as `accountId` and its consent form. Returns the first redirect URL that starts with
 * `callbackPrefix`, without requesting it.
 */
export async function signInAtProvider(
  jar: CookieJar,
  authorizationUrl: string,
  accountId: string,
  callbackPrefix: string,
): Promise<string> {
  let url = authorizationUrl;
  for (let step = 0; step < 12; step += 1) {
    if (url.startsWith(callbackPrefix)) return url;
    const response = await browse(jar, url);
    const location = response.headers.get('location');
    if (location) {
      url = new URL(location, url).href;
      continue;
    }
    const page = await response.text();
    if (response.status !== 200) {
      throw new Error(`provider answered ${response.status} at ${url}: ${page.slice(0, 300)}`);
    }
    const form: Record<string, string> = page.includes('name="prompt" value="login"')
      ? { prompt: 'login', login: accountId, password: 'any' }
      : { prompt: 'consent' };
    const submitted = await browse(jar, url, { method: 'POST', form });
    const next = submitted.headers.get('location');
    if (!next) throw new Error(`provider did not redirect after the ${form.prompt} form`);
    url = new URL(next, url).href;
  }
  throw new Error('provider did not redirect to the callback within 12 steps');
}
