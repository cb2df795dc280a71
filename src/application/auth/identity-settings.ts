import type { Config } from '../../config/config.schema.js';

/** Session lifetimes and sign-in lockout rules, in milliseconds where a time. */
export interface IdentitySettings {
  /** A session ends after this long without a request. */
  sessionIdleMs: number;
  /** A session ends this long after sign-in, however active. */
  sessionAbsoluteMs: number;
  /** Failed sign-ins of one account before it is locked. */
  accountFailureLimit: number;
  /** Failed sign-ins from one IP address before it is locked. */
  ipFailureLimit: number;
  /** The first lockout; each further lockout of the same account or address doubles it. */
  lockoutBaseMs: number;
  /** The longest lockout. */
  lockoutMaxMs: number;
}

export const DEFAULT_IDENTITY_SETTINGS: IdentitySettings = {
  sessionIdleMs: 30 * 60 * 1000,
  sessionAbsoluteMs: 12 * 60 * 60 * 1000,
  accountFailureLimit: 5,
  ipFailureLimit: 20,
  lockoutBaseMs: 60 * 1000,
  lockoutMaxMs: 60 * 60 * 1000,
};

/** Reads the identity settings from the validated configuration. */
export function identitySettingsFromConfig(config: Config): IdentitySettings {
  return {
    sessionIdleMs: config.SESSION_IDLE_TIMEOUT_MS,
    sessionAbsoluteMs: config.SESSION_ABSOLUTE_TIMEOUT_MS,
    accountFailureLimit: config.LOGIN_LOCKOUT_ACCOUNT_FAILURES,
    ipFailureLimit: config.LOGIN_LOCKOUT_IP_FAILURES,
    lockoutBaseMs: config.LOGIN_LOCKOUT_BASE_MS,
    lockoutMaxMs: Math.max(config.LOGIN_LOCKOUT_MAX_MS, config.LOGIN_LOCKOUT_BASE_MS),
  };
}
