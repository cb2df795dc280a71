import type { Queryable } from '../../data/database/database.js';
import type { ProjectSettings } from './project.schema.js';

export interface Project {
  id: string;
  orgId: string;
  name: string;
  slug: string;
  settings: ProjectSettings;
  status: 'active' | 'archived';
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = `id, org_id AS "orgId", name, slug, settings, status,
  created_at AS "createdAt", updated_at AS "updatedAt"`;

export async function insertProject(
  db: Queryable,
  project: { orgId: string; name: string; slug: string; settings: ProjectSettings },
): Promise<Project> {
  const result = await db.query<Project>(
    `INSERT INTO projects (org_id, name, slug, settings) VALUES ($1, $2, $3, $4)
     RETURNING ${COLUMNS}`,
    [project.orgId, project.name, project.slug, JSON.stringify(project.settings)],
  );
  return result.rows[0] as Project;
}

/** Finds a project inside one organization; a project of another organization is not found. */
export async function findProject(
  db: Queryable,
  orgId: string,
  projectId: string,
): Promise<Project | null> {
  const result = await db.query<Project>(
    `SELECT ${COLUMNS} FROM projects WHERE org_id = $1 AND id = $2`,
    [orgId, projectId],
  );
  return result.rows[0] ?? null;
}

export async function findProjectBySlug(
  db: Queryable,
  orgId: string,
  slug: string,
): Promise<Project | null> {
  const result = await db.query<Project>(
    `SELECT ${COLUMNS} FROM projects WHERE org_id = $1 AND slug = $2`,
    [orgId, slug],
  );
  return result.rows[0] ?? null;
}

export async function listProjects(db: Queryable, orgId: string): Promise<Project[]> {
  const result = await db.query<Project>(
    `SELECT ${COLUMNS} FROM projects WHERE org_id = $1 ORDER BY created_at, id`,
    [orgId],
  );
  return result.rows;
}

/** Writes the changed fields; the caller has loaded the project within the organization. */
export async function updateProject(
  db: Queryable,
  project: Pick<Project, 'id' | 'orgId' | 'name' | 'settings' | 'status'>,
): Promise<Project> {
  const result = await db.query<Project>(
    `UPDATE projects SET name = $3, settings = $4, status = $5, updated_at = now()
      WHERE org_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
    [project.orgId, project.id, project.name, JSON.stringify(project.settings), project.status],
  );
  return result.rows[0] as Project;
}
