import { readFile } from 'node:fs/promises';

import { describe, expect, it } from 'vitest';

import { SCOPE_PERMISSIONS } from '../../../src/application/authorization/api-key-scopes.js';
import {
  PERMISSIONS,
  PROJECT_ROLE_PERMISSIONS,
  ROLE_PERMISSIONS,
} from '../../../src/application/authorization/permissions.js';

const DOC = new URL('../../../docs/authorization.md', import.meta.url);

/** The permission table of the page: permission name to its row of cells. */
async function documentedTable(): Promise<Map<string, string[]>> {
  const text = await readFile(DOC, 'utf8');
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^\| `([a-z_]+\.[a-z_]+)` \|(.*)\|$/.exec(line);
    if (!match) continue;
    rows.set(
      match[1] ?? '',
      (match[2] ?? '').split('|').map((cell) => cell.trim()),
    );
  }
  return rows;
}

/** The row the code implies, in the page's column order. */
function expectedRow(permission: string): string[] {
  const grants = [
    ...(['owner', 'admin', 'security_admin', 'auditor', 'member', 'viewer'] as const).map(
      (role) => ROLE_PERMISSIONS[role],
    ),
    ...(['admin', 'developer', 'viewer'] as const).map((role) => PROJECT_ROLE_PERMISSIONS[role]),
    SCOPE_PERMISSIONS.admin_read,
    SCOPE_PERMISSIONS.admin,
  ];
  return grants.map((granted) => ((granted as readonly string[]).includes(permission) ? '✓' : ''));
}

describe('authorization page', () => {
  it('lists every permission', async () => {
    const table = await documentedTable();
    expect([...table.keys()]).toEqual([...PERMISSIONS]);
  });

  it('matches the role table', async () => {
    const table = await documentedTable();
    for (const permission of PERMISSIONS) {
      expect(table.get(permission), permission).toEqual(expectedRow(permission));
    }
  });
});
