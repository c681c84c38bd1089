/** What stitching reads (chunk results on the source's timeline) and what it produces (caption cues). */

/** One chunk's answer. `startS`/`endS` are the measured cut points on the source's timeline. */
export interface ChunkText {
  index: number;
  startS: number;
  endS: number;
  text: string;
  /**
   * Where the chunk's audio has speech ([startS, endS] on the source's timeline, from the silence map the cuts
   * were chosen in: media/speech.ts). Absent: unknown, and the text is spread over the chunk's whole range.
   */
  speech?: [number, number][];
}

/** One caption cue. Times are whole milliseconds (as seconds) so rendering never reorders them. */
export interface Cue {
  startS: number;
  endS: number;
  /** one or two lines joined by "\n" */
  text: string;
}
