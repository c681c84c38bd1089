/**
 * When a Batch line's job wakes by itself, as data. The poller promotes the job as soon as it has the line's
 * answer; the job's own wake is only the safety net for a promote that missed (the job was still in its first
 * run, say). Every wake is a whole job run for nothing, so the first comes no sooner than an answer could (the
 * longest a line waits to be packed, then ten of the poller's longest waits), and later ones as long as the
 * line has waited (about a doubling: a handful of wakes per line over a 24-h window), at most an eighth of the
 * window. Measured in bench/ `batch` (--quick, 400 lines): the old fixed wake (two poll waits, 4 s there) ran
 * each line job ~15 times while it waited, and Redis saw ~4x the real-time run's job commands; ten poll waits
 * still ran it 4.7 times.
 */
export function lineWakeMs(waitedMs: number, s: { pollMaxMs: number; packMaxWaitMs: number; windowMs: number }): number {
  const least = s.packMaxWaitMs + 10 * s.pollMaxMs;
  const windowMs = s.windowMs;
  return Math.round(Math.max(least, Math.min(windowMs / 8, waitedMs)));
}
