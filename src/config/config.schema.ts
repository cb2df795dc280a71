import { z } from 'zod';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Treats an empty environment variable as unset, as shells and .env files often produce them. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
  .transform((value) => value.replace(/\/+$/, ''));

const postgresUrl = z.url({
  protocol: /^postgres(ql)?$/,
  error: 'must be a postgres:// or postgresql:// URL',
});

const redisUrl = z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' });

/**
 * Parses a whole number written in plain decimal digits. `Number()` alone also accepts hex
 * (`0x1E`), exponents (`3e1`), `30.0` and surrounding whitespace, so a string must match digits.
 */
const boundedInteger = (min: number, max: number) => {
  const error = `must be a whole number between ${min} and ${max}, written in decimal digits`;
  return z.preprocess(
    (value) => (typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value),
    z.number({ error }).int({ error }).min(min, { error }).max(max, { error }),
  );
};

const secret = z.string().min(1).max(4096);

const withDefault = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema);

const booleanFlag = z
  .enum(['true', 'false'], { error: 'must be true or false' })
  .transform((value) => value === 'true');

/** A comma-separated list; blank items are dropped. */
const commaList = (item: z.ZodType<string, string>, error: string) =>
  z
    .string()
    .max(8192)
    .transform((value) =>
      value
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== ''),
    )
    .pipe(z.array(item, { error }).max(256));

const hostName = z
  .string()
  .regex(/^[A-Za-z0-9.:[\]-]{1,261}$/, {
    error: 'must list host names, optionally with a port, separated by commas',
  })
  .transform((value) => value.toLowerCase());

const proxyAddress = z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()], {
  error: 'must list IP addresses or CIDR ranges separated by commas',
});

const countryCode = z
  .string()
  .regex(/^[A-Za-z]{2}$/, {
    error: 'must list ISO 3166-1 alpha-2 country codes separated by commas',
  })
  .transform((value) => value.toUpperCase());

/** The environment variables MindWeave reads, with their defaults. */
export const configSchema = z.object({
  HOST: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z
      .union([z.ipv4(), z.ipv6(), z.literal('localhost')], {
        error: 'must be an IPv4 or IPv6 address or localhost',
      })
      .default('127.0.0.1'),
  ),
  PORT: z.preprocess(
    (value) => (value === '' ? undefined : value),
    boundedInteger(0, 65535).default(3000),
  ),
  MINDWEAVE_DATA_DIR: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.string().min(1).max(1024).default('./data'),
  ),
  DATABASE_URL: optional(postgresUrl),
  REDIS_URL: optional(redisUrl),
  ANTHROPIC_BASE_URL: z.preprocess(
    (value) => (value === '' ? undefined : value),
    httpUrl.default('https://api.anthropic.com'),
  ),
  ANTHROPIC_API_KEY: optional(secret),
  OPENAI_BASE_URL: z.preprocess(
    (value) => (value === '' ? undefined : value),
    httpUrl.default('https://api.openai.com/v1'),
  ),
  OPENAI_API_KEY: optional(secret),
  LOG_LEVEL: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  ),
  UPSTREAM_TIMEOUT_MS: z.preprocess(
    (value) => (value === '' ? undefined : value),
    boundedInteger(1000, 3_600_000).default(600_000),
  ),
  AUDIT_SIGNING_KEY_DIR: optional(z.string().min(1).max(1024)),
  KMS_MASTER_KEY_DIR: optional(z.string().min(1).max(1024)),
  KMS_PROVIDER: withDefault(
    z.enum(['local', 'pkcs11'], { error: 'must be local or pkcs11' }).default('local'),
  ),
  // The other provider, opened for decryption only, so `mindweave keys migrate-kms` and a
  // server can read purpose keys still wrapped under its master key during a migration.
  KMS_DECRYPT_ONLY: optional(z.enum(['local', 'pkcs11'], { error: 'must be local or pkcs11' })),
  PKCS11_LIBRARY: optional(z.string().min(1).max(1024)),
  // PKCS#11 pads token labels to 32 bytes, so a longer label can never match.
  PKCS11_TOKEN_LABEL: optional(z.string().min(1).max(32)),
  PKCS11_PIN: optional(secret),
  PKCS11_KEY_LABEL: withDefault(z.string().min(1).max(255).default('mindweave-master')),
  PKCS11_CREATE_KEY: withDefault(booleanFlag.default(false)),
  KEY_ROTATION_DAYS: withDefault(boundedInteger(0, 3650).default(365)),
  // At least 7 days, so a mistaken key deletion or subject erasure can still be cancelled.
  KEY_DELETION_WAITING_DAYS: withDefault(boundedInteger(7, 3650).default(30)),
  AUDIT_LOG_NAME: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z
      .string()
      .regex(/^[A-Za-z0-9._/-]{1,200}$/, {
        error: 'must be 1 to 200 characters of letters, digits and . _ / -',
      })
      .default('mindweave.local/audit'),
  ),
  AUDIT_CHECKPOINT_ENTRIES: z.preprocess(
    (value) => (value === '' ? undefined : value),
    boundedInteger(1, 10_000_000).default(1000),
  ),
  AUDIT_CHECKPOINT_INTERVAL_MS: z.preprocess(
    (value) => (value === '' ? undefined : value),
    boundedInteger(100, 86_400_000).default(60_000),
  ),
  SHUTDOWN_GRACE_MS: z.preprocess(
    (value) => (value === '' ? undefined : value),
    boundedInteger(0, 600_000).default(25_000),
  ),
  SESSION_IDLE_TIMEOUT_MS: z.preprocess(
    (value) => (value === '' ? undefined : value),
    boundedInteger(60_000, 86_400_000).default(1_800_000),
  ),
  SESSION_ABSOLUTE_TIMEOUT_MS: z.preprocess(
    (value) => (value === '' ? undefined : value),
    boundedInteger(60_000, 2_592_000_000).default(43_200_000),
  ),
  LOGIN_LOCKOUT_ACCOUNT_FAILURES: z.preprocess(
    (value) => (value === '' ? undefined : value),
    boundedInteger(1, 1000).default(5),
  ),
  LOGIN_LOCKOUT_IP_FAILURES: z.preprocess(
    (value) => (value === '' ? undefined : value),
    boundedInteger(1, 10_000).default(20),
  ),
  LOGIN_LOCKOUT_BASE_MS: z.preprocess(
    (value) => (value === '' ? undefined : value),
    boundedInteger(1000, 86_400_000).default(60_000),
  ),
  LOGIN_LOCKOUT_MAX_MS: z.preprocess(
    (value) => (value === '' ? undefined : value),
    boundedInteger(1000, 86_400_000).default(3_600_000),
  ),
  LOGIN_THROTTLE_REDIS_PREFIX: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z
      .string()
      .regex(/^[A-Za-z0-9:._-]{1,64}$/, {
        error: 'must be 1 to 64 characters of letters, digits and : . _ -',
      })
      .default('mindweave:login:'),
  ),
  WEBAUTHN_ORIGIN: optional(httpUrl),
  WEBAUTHN_RP_ID: optional(
    z
      .string()
      .max(253)
      .refine((name) => name.split('.').every((label) => /^[a-z0-9-]{1,63}$/.test(label)), {
        error: 'must be a lower-case domain name such as example.com',
      }),
  ),
  SSO_CALLBACK_BASE_URL: optional(httpUrl),
  RATE_LIMIT_IP_MAX: withDefault(boundedInteger(0, 10_000_000).default(2000)),
  RATE_LIMIT_IP_WINDOW_SECONDS: withDefault(boundedInteger(1, 86_400).default(300)),
  RATE_LIMIT_AUTH_MAX: withDefault(boundedInteger(0, 10_000_000).default(10)),
  RATE_LIMIT_AUTH_WINDOW_SECONDS: withDefault(boundedInteger(1, 86_400).default(60)),
  RATE_LIMIT_KEY_MAX: withDefault(boundedInteger(0, 10_000_000).default(600)),
  RATE_LIMIT_KEY_WINDOW_SECONDS: withDefault(boundedInteger(1, 86_400).default(60)),
  RATE_LIMIT_KEY_TOKENS: withDefault(boundedInteger(0, 1_000_000_000).default(1_000_000)),
  RATE_LIMIT_KEY_TOKEN_WINDOW_SECONDS: withDefault(boundedInteger(1, 86_400).default(3600)),
  RATE_LIMIT_REDIS_FAILURE: withDefault(
    z.enum(['open', 'closed'], { error: 'must be open or closed' }).default('closed'),
  ),
  RATE_LIMIT_REDIS_PREFIX: withDefault(
    z
      .string()
      .regex(/^[A-Za-z0-9:._-]{1,64}$/, {
        error: 'must be 1 to 64 characters of letters, digits and : . _ -',
      })
      .default('mindweave:rl:'),
  ),
  RATE_LIMIT_REDIS_LEASE_PERCENT: withDefault(boundedInteger(0, 10).default(1)),
  RATE_LIMIT_MEMORY_MAX_KEYS: withDefault(boundedInteger(100, 10_000_000).default(100_000)),
  ADMIN_BODY_LIMIT_BYTES: withDefault(boundedInteger(1024, 10 * 1024 * 1024).default(1024 * 1024)),
  MAX_HEADER_BYTES: withDefault(boundedInteger(1024, 1024 * 1024).default(16 * 1024)),
  MAX_HEADER_COUNT: withDefault(boundedInteger(8, 1000).default(100)),
  ALLOWED_HOSTS: optional(commaList(hostName, 'must list host names separated by commas')),
  TRUSTED_PROXIES: optional(
    commaList(proxyAddress, 'must list IP addresses or CIDR ranges separated by commas'),
  ),
  HEADERS_TIMEOUT_MS: withDefault(boundedInteger(100, 600_000).default(10_000)),
  REQUEST_TIMEOUT_MS: withDefault(boundedInteger(1000, 3_600_000).default(120_000)),
  KEEP_ALIVE_TIMEOUT_MS: withDefault(boundedInteger(100, 600_000).default(5000)),
  MAX_CONNECTIONS_PER_IP: withDefault(boundedInteger(1, 100_000).default(256)),
  JIT_MAX_DURATION_HOURS: withDefault(boundedInteger(1, 168).default(8)),
  BREAK_GLASS_DURATION_MINUTES: withDefault(boundedInteger(5, 240).default(60)),
  ACCESS_SWEEP_INTERVAL_MS: withDefault(boundedInteger(100, 600_000).default(10_000)),
  TLS_CERT_FILE: optional(z.string().min(1).max(1024)),
  TLS_KEY_FILE: optional(z.string().min(1).max(1024)),
  TRUST_PROXY_TLS: withDefault(booleanFlag.default(false)),
  GEO_BLOCK_COUNTRIES: optional(
    commaList(countryCode, 'must list ISO 3166-1 alpha-2 country codes separated by commas'),
  ),
  GEOIP_DB_FILE: optional(
    commaList(z.string().min(1).max(1024), 'must list file paths separated by commas'),
  ),
  TOR_EXIT_LIST_FILE: optional(z.string().min(1).max(1024)),
  TOR_ACTION: withDefault(
    z
      .enum(['challenge', 'block', 'allow'], { error: 'must be challenge, block or allow' })
      .default('challenge'),
  ),
  BOT_ACTION: withDefault(
    z.enum(['challenge', 'allow'], { error: 'must be challenge or allow' }).default('challenge'),
  ),
  PERIMETER_FILE_CHECK_MS: withDefault(boundedInteger(100, 86_400_000).default(30_000)),
  CHALLENGE_DIFFICULTY: withDefault(boundedInteger(1, 32).default(20)),
  CHALLENGE_PASS_TTL_SECONDS: withDefault(boundedInteger(60, 86_400).default(900)),
  CHALLENGE_SECRET: optional(
    z.string().min(32, { error: 'must be at least 32 characters' }).max(4096),
  ),
  CHALLENGE_REDIS_PREFIX: withDefault(
    z
      .string()
      .regex(/^[A-Za-z0-9:._-]{1,64}$/, {
        error: 'must be 1 to 64 characters of letters, digits and : . _ -',
      })
      .default('mindweave:challenge:'),
  ),
  WAF_MODE: withDefault(
    z
      .enum(['block', 'monitor', 'off'], { error: 'must be block, monitor or off' })
      .default('block'),
  ),
  WAF_PARANOIA_LEVEL: withDefault(boundedInteger(1, 4).default(1)),
  WAF_ANOMALY_THRESHOLD: withDefault(boundedInteger(1, 1000).default(5)),
  SECURITY_EVENTS_RETENTION_DAYS: withDefault(boundedInteger(1, 3650).default(90)),
  SECURITY_EVENTS_BURST_THRESHOLD: withDefault(boundedInteger(0, 1_000_000).default(20)),
  SECURITY_EVENTS_BURST_WINDOW_SECONDS: withDefault(boundedInteger(1, 86_400).default(60)),
  SECURITY_EVENTS_REDIS_PREFIX: withDefault(
    z
      .string()
      .regex(/^[A-Za-z0-9:._-]{1,64}$/, {
        error: 'must be 1 to 64 characters of letters, digits and : . _ -',
      })
      .default('mindweave:sec:'),
  ),
  SECURITY_EVENTS_OPERATOR_ORG_ID: optional(
    z.uuid({ error: 'must be an organization id (a UUID)' }),
  ),
  SMTP_URL: optional(z.url({ protocol: /^smtps?$/, error: 'must be an smtp:// or smtps:// URL' })),
  SMTP_HOST: optional(
    z.string().regex(/^[A-Za-z0-9.:[\]-]{1,255}$/, { error: 'must be a host name or IP address' }),
  ),
  SMTP_PORT: optional(boundedInteger(1, 65535)),
  SMTP_USER: optional(z.string().min(1).max(255)),
  SMTP_PASSWORD: optional(secret),
  SMTP_FROM: withDefault(z.string().min(3).max(255).default('MindWeave <mindweave@localhost>')),
  SMTP_CA_FILE: optional(z.string().min(1).max(1024)),
  SMTP_TLS: withDefault(
    z
      .enum(['starttls', 'implicit', 'none'], { error: 'must be starttls, implicit or none' })
      .default('starttls'),
  ),
  MAIL_LINK_BASE_URL: optional(httpUrl),
  INVITATION_TTL_HOURS: withDefault(boundedInteger(1, 720).default(72)),
});

/** Validated configuration; code reads settings only through this type. */
export type Config = z.infer<typeof configSchema>;
