import type { Config } from '../../config/config.schema.js';

/** Limits of just-in-time and break-glass access, from the configuration. */
export interface AccessSettings {
  /** Longest just-in-time grant, in minutes (JIT_MAX_DURATION_HOURS). */
  maxJitMinutes: number;
  /** Longest, and default, break-glass grant in minutes (BREAK_GLASS_DURATION_MINUTES). */
  breakGlassMinutes: number;
  /** How often expired grants are recorded in the audit log (ACCESS_SWEEP_INTERVAL_MS). */
  sweepIntervalMs: number;
}

export function accessSettingsFromConfig(config: Config): AccessSettings {
  return {
    maxJitMinutes: config.JIT_MAX_DURATION_HOURS * 60,
    breakGlassMinutes: config.BREAK_GLASS_DURATION_MINUTES,
    sweepIntervalMs: config.ACCESS_SWEEP_INTERVAL_MS,
  };
}
