import { z } from 'zod';

export const emailSchema = z
  .email('Invalid email format')
  .max(255)
  .transform((email) => email.toLowerCase());

/** At least 10 characters with an upper-case letter, a lower-case letter, a digit and a symbol. */
export const passwordSchema = z
  .string()
  .min(10, 'Password must be at least 10 characters')
  .max(256, 'Password must be at most 256 characters')
  .regex(/[A-Z]/, 'Password must contain uppercase letter')
  .regex(/[a-z]/, 'Password must contain lowercase letter')
  .regex(/[0-9]/, 'Password must contain number')
  .regex(/[^A-Za-z0-9]/, 'Password must contain special character');

export const personNameSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[a-zA-Z\s'-]+$/, 'Invalid characters in name');

export const createUserSchema = z.strictObject({
  email: emailSchema,
  password: passwordSchema,
  name: personNameSchema,
});

export type CreateUserInput = z.infer<typeof createUserSchema>;

export const ORG_ROLES = [
  'owner',
  'admin',
  'security_admin',
  'auditor',
  'member',
  'viewer',
] as const;
export type OrgRole = (typeof ORG_ROLES)[number];

/** Roles a member of the organization can hold in one project, on top of the org role. */
export const PROJECT_ROLES = ['admin', 'developer', 'viewer'] as const;
export type ProjectRole = (typeof PROJECT_ROLES)[number];

/** A phone number as people write it: an optional leading +, digits, spaces, dots, dashes, brackets. */
export const phoneSchema = z
  .string()
  .trim()
  .min(4)
  .max(32)
  .regex(/^\+?[0-9][0-9 ().-]*[0-9]$/, 'Invalid phone number');
