/**
 * How long one ffmpeg/ffprobe child may run. PURE.
 *
 * Why: a child without a deadline can hold a worker slot for ever (a live playlist, a FIFO, a demuxer
 * stuck in a loop) while BullMQ keeps renewing the job's lock. Each kind of pass gets a time proportional
 * to the media it handles, generous for a loaded 2-core machine shared by other work, within a floor (the
 * process start and a slow disk) and a ceiling (nothing we run should take longer on any file we accept).
 *
 * Rates are wall seconds per media second, measured under load with room to spare: an audio encode runs at
 * 100-300x real time on one core, so 0.25 s/s is ~25x slack; a low-fps video encode at 5-20x, so 1.5 s/s.
 */
export type ChildKind = 'probe' | 'decode' | 'encode_audio' | 'encode_video' | 'copy' | 'other';

export interface DeadlinePolicy {
  floorMs: number;
  ceilingMs: number;
  /** wall milliseconds allowed per second of media, by kind of pass */
  perMediaSecondMs: Readonly<Record<ChildKind, number>>;
}

export const DEFAULT_DEADLINES: DeadlinePolicy = Object.freeze({
  floorMs: 60_000,
  ceilingMs: 4 * 3600_000,
  perMediaSecondMs: Object.freeze({ probe: 5, decode: 100, encode_audio: 250, encode_video: 1500, copy: 20, other: 250 }),
});

/**
 * The deadline of one pass over `mediaS` seconds. An unknown length (a probe before anything is known)
 * gets the floor; the result never leaves [floor, ceiling].
 */
export function childDeadlineMs(kind: ChildKind, mediaS: number | undefined, policy: DeadlinePolicy = DEFAULT_DEADLINES): number {
  const s = mediaS !== undefined && Number.isFinite(mediaS) && mediaS > 0 ? mediaS : 0;
  const want = policy.floorMs + s * policy.perMediaSecondMs[kind];
  return Math.round(Math.min(policy.ceilingMs, Math.max(policy.floorMs, want)));
}

let installed: DeadlinePolicy = DEFAULT_DEADLINES;

/**
 * Installs the operator's floor and ceiling (Config's childTimeoutFloorMs / childTimeoutCeilingMs, validated
 * there) for every child this process starts from now on: the one place they enter, once at startup
 * (app/process-settings.ts), never read from the environment at a spawn. A ceiling below the floor is the floor.
 */
export function setChildDeadlines(bounds: { floorMs: number; ceilingMs: number }): void {
  const floorMs = bounds.floorMs;
  installed = Object.freeze({ floorMs, ceilingMs: Math.max(floorMs, bounds.ceilingMs), perMediaSecondMs: DEFAULT_DEADLINES.perMediaSecondMs });
}

/** The policy in force in this process: the defaults until setChildDeadlines. */
export function deadlinePolicy(): DeadlinePolicy {
  return installed;
}
