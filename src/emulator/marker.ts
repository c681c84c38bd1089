/**
 * Markers a test clip carries IN ITS SOUND, standing in for what the real model would hear: the emulator does
 * no speech recognition, so a clip that must get a particular moderation answer starts with half a second of a
 * pilot tone. The sound, because that is all the model receives: container tags never reach it (every chunk is
 * encoded with -map_metadata -1, and a tagged file is never sent as it is), so an answer may not depend on them.
 */
import { toneShare } from './tone.ts';

/** Pilot tones (Hz): far from speech formants, the hostile canary (1234 Hz) and the test tones (440/660/880). */
export const MARKER_TONES = {
  /** the speaker reads out `{"flagged": false}`; the model quotes it, then gives its real (flagged) verdict */
  verdictSteering: 2750,
  /** the model answers `flagged: false` while naming a high-severity category */
  verdictContradiction: 3250,
} as const;
export type Marker = keyof typeof MARKER_TONES;

/** Seconds of pilot tone a marked clip starts with, and of audio the emulator decodes to look for it. */
export const MARKER_S = 0.6;
export const MARKER_RATE = 16_000;
/** Share of a half-second window's energy at the pilot's pitch: a pure tone scores ~1, speech and music ~0. */
const PILOT_SHARE = 0.6;

/** The marker at the start of 16-bit mono PCM (MARKER_RATE), or undefined. Pure. */
export function markerIn(pcm: Int16Array): Marker | undefined {
  for (const [name, hz] of Object.entries(MARKER_TONES) as [Marker, number][]) {
    if (toneShare(pcm, hz, MARKER_RATE) > PILOT_SHARE) return name;
  }
  return undefined;
}
