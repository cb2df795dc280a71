import { z } from 'zod';

import { emailSchema, passwordSchema } from '../../tenancy/users/user.schema.js';

export const loginSchema = z.strictObject({
  email: emailSchema,
  // Only the length is bounded at login: old passwords may predate today's policy.
  password: z.string().min(1).max(256),
});

export const passwordChangeSchema = z.strictObject({
  currentPassword: z.string().min(1).max(256),
  newPassword: passwordSchema,
});
