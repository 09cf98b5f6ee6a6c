/**
 * Exponential backoff with jitter, the one formula every retry uses (sink reconnects, rescue write
 * retries, replay job retries): attempt 0 waits `initialMs`, each attempt doubles it up to `maxMs`,
 * and the result is spread by ±`jitter` (a fraction) so that many retries do not fire together.
 */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  jitter: number;
}

export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.round(base * (1 - policy.jitter + 2 * policy.jitter * random()));
}
