import type { FastifyRequest } from 'fastify';

import { clientAddress } from '../../network/client-address.js';
import type { ApiKeyAllowlists } from '../../network/ip-allowlist.service.js';
import type { ApiKeyGrant } from '../../tenancy/api-keys/api-key.repository.js';
import { GatewayError } from '../gateway-error.js';

/**
 * Rejects a gateway call whose client address is outside the API-key allowlist of the key's
 * organization. The error is a GatewayError, so the client gets it in its provider's shape.
 */
export async function enforceApiKeyAllowlist(
  allowlists: ApiKeyAllowlists,
  grant: ApiKeyGrant,
  request: FastifyRequest,
): Promise<void> {
  if (await allowlists.allows(grant.orgId, clientAddress(request))) return;
  request.log.warn(
    { orgId: grant.orgId, keyId: grant.keyId },
    'gateway call from an address outside the API-key allowlist',
  );
  throw new GatewayError(
    'ip_not_allowed',
    "This client's IP address is not in the organization's allowlist for API keys",
  );
}
