import { join } from 'node:path';

import type { Redis } from 'ioredis';

import type { Config } from '../../config/config.schema.js';
import type { Database } from '../../data/database/database.js';
import type { DataProtection } from '../../data/key-store/data-protection.js';
import { mailSettingsFromConfig, type MailSettings } from '../mail/mail-settings.js';
import type { SecurityEventSink } from '../../monitoring/security-events/security-event.js';
import { TotpSecretCipher } from '../../data/personal-data/totp-secret-cipher.js';
import { TotpSecretSealer } from '../mfa/totp-secret-sealer.js';
import { identitySettingsFromConfig, type IdentitySettings } from './identity-settings.js';
import { loadLoginThrottleKey } from './login-throttle-key.js';
import {
  FailClosedLoginThrottle,
  MemoryLoginThrottle,
  RedisLoginThrottle,
  type LoginThrottle,
} from './login-throttle.js';
import { SessionClientCipher } from './session-client.js';
import { SessionService } from './session.service.js';

/** Everything sign-in, sessions and MFA need, created once per server. */
export interface IdentityServices {
  db: Database;
  settings: IdentitySettings;
  throttle: LoginThrottle;
  sessions: SessionService;
  totpSealer: TotpSecretCipher;
  /** SMTP server, sender and link page of password reset and invitation mails. */
  mail: MailSettings;
  /** How long an invitation token works, in milliseconds. */
  invitationTtlMs: number;
  /** Receives failed sign-ins and lockouts as security events; null records none. */
  securityEvents: SecurityEventSink | null;
  /** Milliseconds since the Unix epoch; tests replace it to move time. */
  clock: () => number;
}

/**
 * Returns the path of the key file that sealed TOTP secrets before they moved under the key
 * hierarchy, inside the data folder. It is read only to open such older secrets.
 */
export function totpKeyPath(config: Config): string {
  return join(config.MINDWEAVE_DATA_DIR, 'identity-keys', 'totp-secret.key');
}

/**
 * Creates the identity services. With a Redis client, sign-in failure counters are shared by
 * every server that uses that Redis; without one they live in this process only.
 */
export async function createIdentityServices(options: {
  config: Config;
  db: Database;
  redis?: Redis | null;
  securityEvents?: SecurityEventSink | null;
  /**
   * Key hierarchy that encrypts the client address and user agent of sessions and wraps the key
   * that names sign-in counters in Redis. Without it, sessions record neither, and Redis cannot
   * be used.
   */
  dataProtection?: DataProtection | null;
  clock?: () => number;
}): Promise<IdentityServices> {
  const settings = identitySettingsFromConfig(options.config);
  const clock = options.clock ?? Date.now;
  const dataProtection = options.dataProtection ?? null;
  let throttle: LoginThrottle = new MemoryLoginThrottle();
  if (options.redis) {
    if (dataProtection === null) {
      throw new Error('sign-in counters in Redis need the key hierarchy, which is not open');
    }
    const names = await loadLoginThrottleKey(options.db, dataProtection.hierarchy);
    throttle = new FailClosedLoginThrottle(
      new RedisLoginThrottle(options.redis, options.config.LOGIN_THROTTLE_REDIS_PREFIX, names),
    );
  }
  return {
    db: options.db,
    settings,
    throttle,
    sessions: new SessionService(
      options.db,
      settings,
      clock,
      dataProtection ? new SessionClientCipher(dataProtection.fieldCipher) : null,
    ),
    totpSealer: new TotpSecretCipher(legacyTotpOpener(totpKeyPath(options.config))),
    // A getter, because SIGHUP replaces a rotated SMTP password in the config object.
    get mail() {
      return mailSettingsFromConfig(options.config);
    },
    invitationTtlMs: options.config.INVITATION_TTL_HOURS * 60 * 60 * 1000,
    securityEvents: options.securityEvents ?? null,
    clock,
  };
}

/** Opens the older TOTP key file on first use and keeps it for later calls. */
export function legacyTotpOpener(path: string): () => Promise<TotpSecretSealer> {
  let opened: Promise<TotpSecretSealer> | undefined;
  return () => (opened ??= TotpSecretSealer.open(path));
}
