/** Model the benchmark project is allowed to call and every request names. */
export const BENCH_MODEL = 'claude-sonnet-4-5';

const SYSTEM_PROMPT =
  'You are a concise assistant for an internal engineering team. Answer in at most three ' +
  'sentences and say so when you are not sure.';

const USER_PROMPTS = [
  'Summarize the difference between a mutex and a semaphore.',
  'Write a SQL query that returns the ten most recent orders per customer.',
  'What does HTTP status 429 mean and how should a client react to it?',
  'Translate "the build failed because a dependency is missing" into German.',
  'Suggest a name for a function that removes duplicate entries from a sorted list.',
  'Explain what a p99 latency is to a product manager.',
  'List three risks of storing API keys in environment variables.',
  'Give a one-line regular expression that matches an ISO 8601 date.',
];

/**
 * Anthropic Messages request bodies of a few hundred bytes each: a system prompt, one earlier
 * turn and a new question, as a chat client sends them.
 */
export function requestBodies(): string[] {
  return USER_PROMPTS.map((prompt, index) =>
    JSON.stringify({
      model: BENCH_MODEL,
      max_tokens: 256,
      system: SYSTEM_PROMPT,
      messages: [
        { role: 'user', content: 'Hi, I have a few quick questions.' },
        { role: 'assistant', content: 'Sure, go ahead.' },
        { role: 'user', content: prompt },
      ],
      metadata: { user_id: `bench-user-${index}` },
    }),
  );
}
