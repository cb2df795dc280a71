import type { Logger } from 'pino';

import type { Config } from '../../config/config.schema.js';
import type { FieldCipher } from '../../data/crypto/field-cipher.js';
import type { IdentityServices } from '../auth/identity.js';
import { OidcClientFactory } from './oidc-client.js';
import { SsoConfigService } from './sso-config.service.js';
import { SsoLoginService } from './sso-login.service.js';

/** The configuration and sign-in services of single sign-on. */
export interface SsoServices {
  configs: SsoConfigService;
  login: SsoLoginService;
}

/**
 * Returns the base URL that browsers reach MindWeave at, which starts every SSO redirect URI:
 * `SSO_CALLBACK_BASE_URL`, or `http://localhost:<PORT>` (`https://` with a TLS certificate).
 */
export function ssoPublicBaseUrl(
  config: Pick<Config, 'SSO_CALLBACK_BASE_URL' | 'PORT' | 'TLS_CERT_FILE'>,
): string {
  if (config.SSO_CALLBACK_BASE_URL) return config.SSO_CALLBACK_BASE_URL;
  return `${config.TLS_CERT_FILE ? 'https' : 'http'}://localhost:${config.PORT}`;
}

/** Creates the SSO services; the client secrets are encrypted with `cipher`. */
export function createSsoServices(options: {
  config: Config;
  identity: IdentityServices;
  cipher: FieldCipher;
  logger: Logger;
}): SsoServices {
  const configs = new SsoConfigService(
    options.identity.db,
    options.cipher,
    ssoPublicBaseUrl(options.config),
  );
  const login = new SsoLoginService(
    options.identity,
    configs,
    new OidcClientFactory(),
    options.logger,
  );
  return { configs, login };
}
