/**
 * How long one ffmpeg/ffprobe child may run. PURE.
 *
 * Why: a child without a deadline can hold a worker slot for ever (a live playlist, a FIFO, a demuxer
 * stuck in a loop) while BullMQ keeps renewing the job's lock. Each kind of pass gets a time proportional
 * to the media it handles, generous for a loaded 2-core machine shared by other work, within a floor (the
 * process start and a slow disk) and a ceiling (nothing we run should take longer on any file we accept).
 *
 * Rates are wall seconds per media second, measured under load with room to spare: an audio encode runs at
 * 100-300x real time on one core, so 0.25 s/s is ~25x slack. A video encode's time is the decode of every
 * source frame (one decoder thread: encode-args.ts), so it grows with width x height x fps, not with seconds:
 * 0.25 s/s for the low-fps output plus one wall second per DECODE_PIXELS_PER_WALL_S decoded pixels (1080p30,
 * 62 Mpx/s, gets 1.5 s/s as before; an 8K30 source 21 s/s). The ceiling is low (2 h) because one child is
 * one file: a file whose pass could not finish within it is refused before it starts (limits.ts
 * decodeCostViolation: `media_too_costly`), instead of holding a prepare slot for hours and then timing out.
 */
export type ChildKind = 'probe' | 'decode' | 'encode_audio' | 'encode_video' | 'copy' | 'other';

export interface DeadlinePolicy {
  floorMs: number;
  ceilingMs: number;
  /** wall milliseconds allowed per second of media, by kind of pass (video: besides its decode, below) */
  perMediaSecondMs: Readonly<Record<ChildKind, number>>;
  /** decoded pixels a video pass is given a wall second for */
  decodePixelsPerWallS: number;
}

/** 50 Mpx per wall second: one decoder thread does 150-1,000 on this class of machine; the rest is slack for load. */
export const DECODE_PIXELS_PER_WALL_S = 50_000_000;
/** The decode rate assumed when a video's is not known: 1080p at 30 frames a second. */
export const DEFAULT_PIXELS_PER_S = 1920 * 1080 * 30;

export const DEFAULT_DEADLINES: DeadlinePolicy = Object.freeze({
  floorMs: 60_000,
  ceilingMs: 2 * 3600_000,
  perMediaSecondMs: Object.freeze({ probe: 5, decode: 100, encode_audio: 250, encode_video: 250, copy: 20, other: 250 }),
  decodePixelsPerWallS: DECODE_PIXELS_PER_WALL_S,
});

/** What a pass over `mediaS` seconds would be given before the floor and ceiling apply (video: pixels x seconds). */
export function wantedDeadlineMs(kind: ChildKind, mediaS: number | undefined, policy: DeadlinePolicy = DEFAULT_DEADLINES, pixelsPerS?: number): number {
  const s = mediaS !== undefined && Number.isFinite(mediaS) && mediaS > 0 ? mediaS : 0;
  let perS = policy.perMediaSecondMs[kind];
  if (kind === 'encode_video') {
    const px = pixelsPerS !== undefined && Number.isFinite(pixelsPerS) && pixelsPerS > 0 ? pixelsPerS : DEFAULT_PIXELS_PER_S;
    perS += (px / policy.decodePixelsPerWallS) * 1000;
  }
  return policy.floorMs + s * perS;
}

/**
 * The deadline of one pass over `mediaS` seconds (a video encode: of a source decoding `pixelsPerS` pixels a
 * media second). An unknown length (a probe before anything is known) gets the floor; the result never leaves
 * [floor, ceiling].
 */
export function childDeadlineMs(kind: ChildKind, mediaS: number | undefined, policy: DeadlinePolicy = DEFAULT_DEADLINES, pixelsPerS?: number): number {
  const want = wantedDeadlineMs(kind, mediaS, policy, pixelsPerS);
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
  installed = Object.freeze({
    floorMs,
    ceilingMs: Math.max(floorMs, bounds.ceilingMs),
    perMediaSecondMs: DEFAULT_DEADLINES.perMediaSecondMs,
    decodePixelsPerWallS: DEFAULT_DEADLINES.decodePixelsPerWallS,
  });
}

/** The policy in force in this process: the defaults until setChildDeadlines. */
export function deadlinePolicy(): DeadlinePolicy {
  return installed;
}

/** RLIMIT_AS of every ffmpeg/ffprobe child by default: measured, ffmpeg maps ~300 MB of libraries before it reads a byte. */
export const DEFAULT_CHILD_MEMORY_MB = 768;

let memoryMb = DEFAULT_CHILD_MEMORY_MB;

/** Installs OMNIBATCH_CHILD_MAX_MEMORY_MB (Config's childMaxMemoryMb) for every child started from now on; 0: none. */
export function setChildMemory(mb: number): void {
  memoryMb = mb;
}

/** The address-space limit of a child (child-argv.ts, via prlimit), in bytes; undefined: none. `mb`: an override. */
export function childMemoryBytes(mb: number = memoryMb): number | undefined {
  if (!Number.isFinite(mb) || mb < 0) return DEFAULT_CHILD_MEMORY_MB * 1024 * 1024;
  return mb === 0 ? undefined : Math.floor(mb * 1024 * 1024);
}
