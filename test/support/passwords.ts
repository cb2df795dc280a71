/** A password that meets the policy, for tests that need a second valid password. */
export const passwordPolicyExample = 'Correct-Horse-Battery-42';
