/** Snapshot of {@link FieldCryptoCounters}. */
export interface FieldCryptoCounts {
  encryptions: number;
  decryptions: number;
  decryptionFailures: number;
  blindIndexes: number;
}

/**
 * In-process counters for per-field operations. Field encryptions and decryptions are too
 * frequent to write one key usage record each, so they are counted here and can be exported as
 * metrics. Key unwraps behind them are still logged.
 */
export class FieldCryptoCounters {
  encryptions = 0;
  decryptions = 0;
  decryptionFailures = 0;
  blindIndexes = 0;

  /** Returns the current counts as a plain object. */
  snapshot(): FieldCryptoCounts {
    return {
      encryptions: this.encryptions,
      decryptions: this.decryptions,
      decryptionFailures: this.decryptionFailures,
      blindIndexes: this.blindIndexes,
    };
  }
}
