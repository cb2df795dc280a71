import { randomBytes } from 'node:crypto';

import { z } from 'zod';

import { ipKey, type IpAddress } from '../ip-address.js';
import type { ChallengeKeys } from './challenge-keys.js';
import { proofOfWorkBits } from './proof-of-work.js';
import { openToken, signToken } from './signed-token.js';
import type { SpentChallenges } from './spent-challenges.js';

/** The request header that carries a pass. */
export const PASS_HEADER = 'x-mindweave-challenge';

/** How long a client has to solve a challenge. */
export const CHALLENGE_TTL_MS = 5 * 60 * 1000;

const challengePayload = z.object({
  typ: z.literal('challenge'),
  id: z.string().max(64),
  ip: z.string().max(64),
  exp: z.number().int(),
  bits: z.number().int().min(1).max(32),
});

const passPayload = z.object({
  typ: z.literal('pass'),
  ip: z.string().max(64),
  exp: z.number().int(),
});

/** A new challenge for one client address. */
export interface IssuedChallenge {
  challenge: string;
  difficulty: number;
  expiresAt: Date;
}

/** Reason a solution was rejected. */
export type VerifyFailure =
  'invalid' | 'expired' | 'other-address' | 'insufficient-work' | 'replayed' | 'unavailable';

export type VerifyResult =
  { ok: true; pass: string; expiresAt: Date } | { ok: false; reason: VerifyFailure };

/** The state of the pass a request carries. */
export type PassCheck = 'valid' | 'missing' | 'invalid' | 'expired' | 'other-address';

export interface ChallengeSettings {
  /** Leading zero bits a solution needs. */
  difficulty: number;
  passTtlMs: number;
}

/**
 * Issues proof-of-work challenges and the passes that solving one earns. Both are HMAC-signed
 * tokens that carry the client address they were issued to and an expiry, so the server keeps
 * no state for them except the ids of used challenges.
 */
export class ChallengeService {
  constructor(
    private readonly keys: ChallengeKeys,
    private readonly spent: SpentChallenges,
    readonly settings: ChallengeSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Issues a challenge bound to `address` that expires after five minutes. */
  issue(address: IpAddress): IssuedChallenge {
    const exp = this.now() + CHALLENGE_TTL_MS;
    const payload = {
      typ: 'challenge',
      id: randomBytes(16).toString('base64url'),
      ip: ipKey(address),
      exp,
      bits: this.settings.difficulty,
    };
    return {
      challenge: signToken(this.keys.challenge, payload),
      difficulty: this.settings.difficulty,
      expiresAt: new Date(exp),
    };
  }

  /**
   * Checks a solution and returns a pass bound to `address`. The challenge is marked used only
   * once the work checks out, so a wrong nonce does not spend it; a used one is rejected.
   */
  async verify(address: IpAddress, challenge: string, nonce: string): Promise<VerifyResult> {
    const parsed = challengePayload.safeParse(openToken(this.keys.challenge, challenge));
    if (!parsed.success) return { ok: false, reason: 'invalid' };
    const payload = parsed.data;
    if (payload.ip !== ipKey(address)) return { ok: false, reason: 'other-address' };
    if (this.now() >= payload.exp) return { ok: false, reason: 'expired' };
    if (proofOfWorkBits(challenge, nonce) < payload.bits) {
      return { ok: false, reason: 'insufficient-work' };
    }
    const spent = await this.spent.spend(payload.id, payload.exp);
    if (spent !== 'first') return { ok: false, reason: spent === 'spent' ? 'replayed' : spent };
    return { ok: true, ...this.issuePass(address) };
  }

  /** Signs a pass for `address`, valid for the configured pass lifetime. */
  issuePass(address: IpAddress): { pass: string; expiresAt: Date } {
    const exp = this.now() + this.settings.passTtlMs;
    const pass = signToken(this.keys.pass, { typ: 'pass', ip: ipKey(address), exp });
    return { pass, expiresAt: new Date(exp) };
  }

  /** Checks the pass a request from `address` carries in the PASS_HEADER header. */
  checkPass(address: IpAddress | null, header: string | string[] | undefined): PassCheck {
    if (header === undefined) return 'missing';
    if (typeof header !== 'string' || address === null) return 'invalid';
    const parsed = passPayload.safeParse(openToken(this.keys.pass, header));
    if (!parsed.success) return 'invalid';
    if (parsed.data.ip !== ipKey(address)) return 'other-address';
    if (this.now() >= parsed.data.exp) return 'expired';
    return 'valid';
  }
}
