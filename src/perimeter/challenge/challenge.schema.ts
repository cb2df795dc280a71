import { z } from 'zod';

import { MAX_TOKEN_LENGTH } from './signed-token.js';

/** `POST /challenge` takes no input: no body, or an empty JSON object. */
export const issueChallengeSchema = z.object({}).strict();

/** `POST /challenge/verify`: the challenge as issued and the nonce that solves it. */
export const verifyChallengeSchema = z
  .object({
    challenge: z.string().min(1).max(MAX_TOKEN_LENGTH),
    nonce: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, {
      error: 'must be 1 to 64 characters of letters, digits, _ and -, such as a decimal counter',
    }),
  })
  .strict();
