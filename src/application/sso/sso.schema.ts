import { z } from 'zod';

import { ORG_ROLES } from '../../tenancy/users/user.schema.js';
import { isLoopbackHost } from './loopback.js';

/** The sign-in slug that names an organization in the SSO URLs. */
export const ssoSlugSchema = z
  .string()
  .regex(/^[a-z0-9-]{1,50}$/, 'Slug must be 1 to 50 lowercase letters, digits or hyphens');

/**
 * An OpenID Connect issuer identifier: https, no query or fragment. Plain http is accepted only
 * for a loopback host (a provider on the same machine, as in development and tests).
 */
export const issuerSchema = z
  .url({ protocol: /^https?$/, error: 'Issuer must be an http:// or https:// URL' })
  .max(2048)
  .superRefine((value, ctx) => {
    const url = new URL(value);
    if (url.search || url.hash) {
      ctx.addIssue({ code: 'custom', message: 'Issuer must not have a query or fragment' });
    }
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      ctx.addIssue({
        code: 'custom',
        message: 'Issuer must use https; http is accepted only for localhost and 127.0.0.1',
      });
    }
  });

const printable = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((value) => !/\p{Cc}/u.test(value), 'Must not contain control characters');

const domainSchema = z
  .string()
  .trim()
  .toLowerCase()
  .refine(
    (domain) =>
      domain.length <= 253 &&
      domain.split('.').length >= 2 &&
      domain.split('.').every((label) => /^[a-z0-9-]{1,63}$/.test(label)),
    'Must be a domain name such as example.com',
  );

const roleSchema = z.enum(ORG_ROLES);

/** The identity provider settings an admin stores for an organization. */
export const putSsoConfigSchema = z.strictObject({
  slug: ssoSlugSchema,
  issuer: issuerSchema,
  clientId: printable(255),
  /** Required when no configuration exists yet; omitted, the stored secret is kept. */
  clientSecret: printable(1024).optional(),
  scopes: z
    .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,100}$/, 'Invalid scope'))
    .min(1)
    .max(20)
    .refine((scopes) => scopes.includes('openid'), 'Scopes must include openid')
    .default(['openid', 'email', 'profile']),
  allowedEmailDomains: z.array(domainSchema).min(1).max(50),
  groupsClaim: printable(100).default('groups'),
  roleMappings: z
    .array(z.strictObject({ group: printable(255), role: roleSchema }))
    .max(100)
    .default([]),
  defaultRole: roleSchema.nullable().default(null),
  jitProvisioning: z.boolean().default(false),
});

export type PutSsoConfigInput = z.output<typeof putSsoConfigSchema>;

export const ssoSlugParamsSchema = z.strictObject({ orgSlug: ssoSlugSchema });

export const startQuerySchema = z.strictObject({
  sessionType: z.enum(['bearer', 'cookie']).default('cookie'),
});

/** The callback's query: a code and state, or an error the provider reports. */
export const callbackQuerySchema = z.strictObject({
  code: z.string().min(1).max(4096).optional(),
  state: z.string().min(1).max(512),
  iss: z.string().max(2048).optional(),
  session_state: z.string().max(1024).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(2048).optional(),
  error_uri: z.string().max(2048).optional(),
});
