import { z } from 'zod';

/** A model identifier as the providers spell them, e.g. `claude-sonnet-4-5` or `gpt-4o-mini`. */
export const modelNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._:/-]+$/, 'Model names may contain letters, digits and . _ : / -');

/** A tool name as a client declares it to the model, e.g. `get_weather` or `github.search`. */
export const toolNameSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_.:/-]+$/, 'Tool names may contain letters, digits and _ . : / -');

/**
 * Per-project gateway policy. An empty or missing `allowedModels` list allows no model.
 * `mcpAutoApprove` is `true` (every tool call runs without approval), `false` (each call is
 * held for approval) or the list of tool names that run without approval.
 */
export const projectSettingsSchema = z.strictObject({
  allowedModels: z.array(modelNameSchema).max(500).optional(),
  mcpAutoApprove: z.union([z.boolean(), z.array(toolNameSchema).max(500)]).optional(),
});

export type ProjectSettings = z.infer<typeof projectSettingsSchema>;

export const projectNameSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[\w\s-]+$/, 'Invalid project name');

export const projectSlugSchema = z
  .string()
  .min(1)
  .max(50)
  .regex(/^[a-z0-9-]+$/, 'Slug must be lowercase alphanumeric');

export const createProjectSchema = z.strictObject({
  name: projectNameSchema,
  slug: projectSlugSchema,
  settings: projectSettingsSchema.optional(),
});

export const updateProjectSchema = z
  .strictObject({
    name: projectNameSchema.optional(),
    settings: projectSettingsSchema.optional(),
  })
  .refine((value) => value.name !== undefined || value.settings !== undefined, {
    message: 'Provide name or settings',
  });

export type CreateProjectInput = z.infer<typeof createProjectSchema>;
export type UpdateProjectInput = z.infer<typeof updateProjectSchema>;
