import { z } from 'zod';

import { isBreachedPassword } from '../../data/breached-passwords/index.js';
import { emailSchema, passwordSchema } from '../../tenancy/users/user.schema.js';

/** The password policy plus the breached-password check, for every password that is set. */
export const newPasswordSchema = passwordSchema.refine(
  (password) => !isBreachedPassword(password),
  'Password is on a list of common breached passwords; choose another',
);

export const loginSchema = z.strictObject({
  email: emailSchema,
  // Only the length is bounded at login: old passwords may predate today's policy.
  password: z.string().min(1).max(256),
  /** `bearer` returns the token in the body; `cookie` sets an httpOnly session cookie. */
  sessionType: z.enum(['bearer', 'cookie']).default('bearer'),
});

export const passwordChangeSchema = z.strictObject({
  currentPassword: z.string().min(1).max(256),
  newPassword: newPasswordSchema,
});

export const sessionIdParamsSchema = z.strictObject({ id: z.uuid() });
