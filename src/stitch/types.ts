/** What stitching reads (chunk results on the source's timeline) and what it produces (caption cues). */

/** One chunk's answer. `startS`/`endS` are the measured cut points on the source's timeline. */
export interface ChunkText {
  index: number;
  startS: number;
  endS: number;
  text: string;
}

/** One caption cue. Times are whole milliseconds (as seconds) so rendering never reorders them. */
export interface Cue {
  startS: number;
  endS: number;
  /** one or two lines joined by "\n" */
  text: string;
}
