import { createHash } from 'node:crypto';

import { expect } from 'vitest';

import { api } from '../../admin/admin-api.js';
import type { TestServer } from '../../support/test-server.js';

/** Counts leading zero bits of SHA-256(challenge || nonce), written apart from the server's. */
function zeroBits(challenge: string, nonce: string): number {
  const digest = createHash('sha256')
    .update(challenge + nonce, 'utf8')
    .digest();
  let bits = 0;
  for (const byte of digest) {
    if (byte !== 0) return bits + (Math.clz32(byte) - 24);
    bits += 8;
  }
  return bits;
}

/** Finds a decimal nonce whose hash with `challenge` has `difficulty` leading zero bits. */
export function solve(challenge: string, difficulty: number): string {
  for (let counter = 0; ; counter += 1) {
    const nonce = String(counter);
    if (zeroBits(challenge, nonce) >= difficulty) return nonce;
  }
}

/** Finds a nonce that does not give `difficulty` leading zero bits. */
export function wrongNonce(challenge: string, difficulty: number): string {
  for (let counter = 0; ; counter += 1) {
    const nonce = `x${counter}`;
    if (zeroBits(challenge, nonce) < difficulty) return nonce;
  }
}

/** Headers that make the server see `ip` as the client, when TRUSTED_PROXIES has 127.0.0.1. */
export function from(ip: string, extra: Record<string, string> = {}): Record<string, string> {
  return { 'x-forwarded-for': ip, ...extra };
}

/** An issued challenge as POST /challenge returns it. */
export interface IssuedChallenge {
  challenge: string;
  difficulty: number;
}

/** Requests a challenge as client `ip`. */
export async function requestChallenge(t: TestServer, ip: string): Promise<IssuedChallenge> {
  const response = await api(t, 'POST', '/challenge', { headers: from(ip) });
  expect(response.status).toBe(200);
  return response.body as unknown as IssuedChallenge;
}

/** Requests a challenge as `ip`, solves it and returns the pass. */
export async function earnPass(t: TestServer, ip: string): Promise<string> {
  const issued = await requestChallenge(t, ip);
  const response = await api(t, 'POST', '/challenge/verify', {
    headers: from(ip),
    body: { challenge: issued.challenge, nonce: solve(issued.challenge, issued.difficulty) },
  });
  expect(response.status).toBe(200);
  return response.body.pass as string;
}
