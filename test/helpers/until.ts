/**
 * Yields to the event loop until `cond` holds (real I/O may be in flight); fails after `ms`. It
 * spins on the event loop for the first 50 ms (an in-process condition settles in a few turns),
 * then checks every 5 ms, so a wait on a child process leaves the CPU to that process (CI has 2 cores).
 */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    const now = Date.now();
    if (now > start + ms) throw new Error('condition not reached in time');
    await new Promise((r) => (now - start < 50 ? setImmediate(r) : setTimeout(r, 5)));
  }
}
