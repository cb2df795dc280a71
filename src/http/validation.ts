import type { z } from 'zod';

import { AppError, type FieldIssue } from './errors.js';

const joinPath = (path: PropertyKey[]) => path.map(String).join('.') || '(root)';

/**
 * Converts zod issues to field-level details, with paths such as `settings.allowedModels.0`.
 * An unknown field is reported at its own path (`settings.role`), not at the object holding it,
 * so a client sees which field to drop.
 */
export function fieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        field: joinPath([...issue.path, key]),
        message: 'Unknown field',
      }));
    }
    return [{ field: joinPath(issue.path), message: issue.message }];
  });
}

/** Checks that `value` contains no U+0000, which PostgreSQL text columns cannot store. */
export function hasNoNulCharacter(value: string): boolean {
  return !value.includes('\u0000');
}

/** Parses `input` with `schema`, or throws a `validation_failed` error listing every field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success)
    throw new AppError('validation_failed', undefined, fieldIssues(result.error));
  return result.data;
}
