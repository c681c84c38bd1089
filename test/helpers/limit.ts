/**
 * Bounded concurrency for tests that run independent ffmpeg/ffprobe children: the suite runs two test files at
 * a time on a 2-core machine, so a file may keep two children busy, not more.
 */

/** A queue that runs at most `n` tasks at once, in the order they were given. */
export function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  const next = (): void => {
    if (active >= n || queue.length === 0) return;
    active++;
    queue.shift()!();
  };
  return <T>(task: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      queue.push(() => {
        Promise.resolve()
          .then(task)
          .then(resolve, reject)
          .finally(() => {
            active--;
            next();
          });
      });
      next();
    });
}

/** `fn` over every item, at most `n` at once; the results in the items' order. */
export function mapLimit<T, R>(items: readonly T[], n: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const run = limiter(n);
  return Promise.all(items.map((item, i) => run(() => fn(item, i))));
}

/**
 * A promise started now and awaited later (by the test that checks it): its rejection is not reported as
 * unhandled in the meantime, and still rejects where it is awaited.
 */
export function early<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}
