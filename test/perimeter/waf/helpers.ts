import type { WafRequest } from '../../../src/perimeter/waf/index.js';

/** Builds a benign GET request; `overrides` replace whole fields. */
export function makeRequest(overrides: Partial<WafRequest> = {}): WafRequest {
  return {
    method: 'GET',
    path: '/admin/v1/tenants',
    rawQuery: '',
    headers: {
      host: '127.0.0.1:8080',
      'user-agent':
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
      accept: 'application/json',
    },
    cookies: {},
    body: undefined,
    bodyKind: 'none',
    routeId: 'admin.tenants.list',
    ...overrides,
  };
}
