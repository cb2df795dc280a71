import * as oidc from 'openid-client';

import { LruCache } from '../../data/crypto/lru-cache.js';
import { isLoopbackHost } from './loopback.js';

/** Time a provider's discovery document is reused before it is fetched again. */
const METADATA_TTL_MS = 10 * 60 * 1000;

/** Time each request to the provider (discovery, token, userinfo) may take, in seconds. */
const REQUEST_TIMEOUT_SECONDS = 10;

/** A provider to reach: its issuer and MindWeave's client there. */
export interface OidcClientSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
}

/**
 * Builds openid-client configurations for organizations' providers, with each provider's
 * discovery document cached by issuer. openid-client checks that the document's `issuer`
 * equals the configured issuer exactly, so a provider that names another issuer is rejected.
 * Plain http is allowed only towards a loopback issuer (openid-client's
 * `allowInsecureRequests`), and every other issuer must use https.
 *
 * NOTE: the server fetches whatever issuer an admin stores, and no list of internal addresses
 * is rejected, so an organization admin can make it send GET requests to internal https hosts.
 */
export class OidcClientFactory {
  readonly #metadata = new LruCache<string, oidc.ServerMetadata>({
    maxEntries: 1000,
    ttlMs: METADATA_TTL_MS,
  });

  async configuration(settings: OidcClientSettings): Promise<oidc.Configuration> {
    const issuer = new URL(settings.issuer);
    const insecureAllowed = issuer.protocol === 'http:' && isLoopbackHost(issuer.hostname);
    if (issuer.protocol !== 'https:' && !insecureAllowed) {
      throw new Error('issuer must use https unless it is a loopback address');
    }
    let metadata = this.#metadata.get(settings.issuer);
    if (!metadata) {
      const discovered = await oidc.discovery(issuer, settings.clientId, undefined, undefined, {
        timeout: REQUEST_TIMEOUT_SECONDS,
        ...(insecureAllowed ? { execute: [oidc.allowInsecureRequests] } : {}),
      });
      metadata = { ...discovered.serverMetadata() };
      this.#metadata.set(settings.issuer, metadata);
    }
    const config = new oidc.Configuration(
      metadata,
      settings.clientId,
      undefined,
      clientAuthentication(metadata, settings.clientSecret),
    );
    config.timeout = REQUEST_TIMEOUT_SECONDS;
    if (insecureAllowed) oidc.allowInsecureRequests(config);
    return config;
  }

  clear(): void {
    this.#metadata.clear();
  }
}

/** HTTP Basic when the provider supports it (the OAuth 2.0 default), else the form body. */
function clientAuthentication(metadata: oidc.ServerMetadata, secret: string): oidc.ClientAuth {
  const methods = metadata.token_endpoint_auth_methods_supported;
  if (!methods || methods.includes('client_secret_basic')) return oidc.ClientSecretBasic(secret);
  return oidc.ClientSecretPost(secret);
}
