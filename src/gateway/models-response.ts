/**
 * The model list in a shape both SDKs read: OpenAI's `{ object: 'list', data }` with
 * `object`/`owned_by`, and Anthropic's `{ data, has_more, first_id, last_id }` with
 * `type`/`display_name`.
 */
export function modelList(models: readonly string[]) {
  const createdAt = new Date(0).toISOString();
  return {
    object: 'list',
    data: models.map((id) => ({
      id,
      object: 'model',
      type: 'model',
      display_name: id,
      created: 0,
      created_at: createdAt,
      owned_by: 'mindweave',
    })),
    has_more: false,
    first_id: models[0] ?? null,
    last_id: models.at(-1) ?? null,
  };
}
