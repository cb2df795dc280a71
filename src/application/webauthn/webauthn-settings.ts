import type { Config } from '../../config/config.schema.js';
import { ConfigError } from '../../config/load-config.js';

/** The relying party that WebAuthn credentials are registered for and checked against. */
export interface WebAuthnSettings {
  /** Domain the credentials are scoped to; browsers accept it only on that domain or below. */
  rpId: string;
  /** Name authenticators show while registering. */
  rpName: string;
  /** The exact browser origin (scheme, host, port) that signs in; other origins are rejected. */
  origin: string;
}

/**
 * Reads the relying party from `WEBAUTHN_ORIGIN` and `WEBAUTHN_RP_ID`. Without them the origin
 * is `http://localhost:<PORT>` (`https://` when the server has a TLS certificate) and the RP id
 * is the origin's host name, which suits a server used from the same machine only.
 *
 * @throws ConfigError when the RP id does not cover the origin's host.
 */
export function webAuthnSettingsFromConfig(
  config: Pick<Config, 'WEBAUTHN_ORIGIN' | 'WEBAUTHN_RP_ID' | 'PORT' | 'TLS_CERT_FILE'>,
): WebAuthnSettings {
  const scheme = config.TLS_CERT_FILE ? 'https' : 'http';
  const origin = new URL(config.WEBAUTHN_ORIGIN ?? `${scheme}://localhost:${config.PORT}`);
  const rpId = config.WEBAUTHN_RP_ID ?? origin.hostname;
  // Browsers reject an RP id that is neither the origin's host nor a parent domain of it.
  if (origin.hostname !== rpId && !origin.hostname.endsWith(`.${rpId}`)) {
    throw new ConfigError(
      'WEBAUTHN_RP_ID',
      `must be the host name of WEBAUTHN_ORIGIN (${origin.hostname}) or a parent domain of it`,
    );
  }
  return { rpId, rpName: 'MindWeave', origin: origin.origin };
}
