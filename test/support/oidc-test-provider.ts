import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import Provider, { type Account } from 'oidc-provider';

/** A person the test provider signs in, with the claims it releases. */
export interface TestAccount {
  id: string;
  email: string;
  emailVerified: boolean;
  name: string;
  groups: string[];
}

/** One registered client of the test provider. */
export interface TestClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
}

/** A running oidc-provider on 127.0.0.1 with its issuer and a way to stop it. */
export interface TestOidcProvider {
  issuer: string;
  port: number;
  accounts: Map<string, TestAccount>;
  stop(): Promise<void>;
}

/**
 * Starts a real OpenID Connect provider (oidc-provider 8) on a free loopback port with the
 * given clients and accounts and an RS256 signing key made for this run. Sign-in uses the
 * package's development login and consent pages, which the test drives over HTTP.
 */
export async function startOidcProvider(options: {
  clients: TestClient[];
  accounts: TestAccount[];
}): Promise<TestOidcProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const accounts = new Map(options.accounts.map((account) => [account.id, account]));
  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

  const provider = new Provider(issuer, {
    clients: options.clients.map((client) => ({
      client_id: client.clientId,
      client_secret: client.clientSecret,
      redirect_uris: client.redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    jwks: {
      keys: [{ ...signingKey.export({ format: 'jwk' }), kid: 'test', use: 'sig', alg: 'RS256' }],
    },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    async findAccount(_context: unknown, id: string): Promise<Account | undefined> {
      const account = accounts.get(id);
      if (!account) return undefined;
      return {
        accountId: id,
        claims: () => ({
          sub: id,
          email: account.email,
          email_verified: account.emailVerified,
          name: account.name,
          groups: account.groups,
        }),
      };
    },
  });
  // The provider reports request errors as events; without listeners it logs them to stderr.
  provider.on('server_error', () => undefined);
  server.on('request', provider.callback());

  return {
    issuer,
    port,
    accounts,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
