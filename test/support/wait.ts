/**
 * Polls until `condition` holds. Waiting on an observable state is not a timing assertion: the deadline
 * only turns a hang into a readable failure.
 */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, deadlineMs = 15_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (await condition()) return;
    if (Date.now() - started > deadlineMs) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
