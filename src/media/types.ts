/** Media facts (from ffprobe) and chunk plans: the data the planner and the cutter exchange. */
export interface AudioStream {
  /** the stream's absolute index in the container (what `-map 0:<index>` selects) */
  index: number;
  codec: string;
  sampleRate: number;
  channels: number;
  bitrate?: number;
}
export interface VideoStream {
  index: number;
  codec: string;
  width: number;
  height: number;
  fps: number;
  /** an attached picture (cover art), not a real video track */
  attachedPic: boolean;
}
export interface MediaInfo {
  /** decodable duration in seconds (measured when the header lies or has none) */
  durationS: number;
  /** what the container header claimed, when it claimed anything */
  headerDurationS?: number;
  /** where durationS comes from: the header (checked against the last packets), or a full demux/decode */
  durationSource?: 'header' | 'measured';
  sizeBytes: number;
  container: string;
  bitrate?: number;
  /** audio[0] is the track every audio task uses */
  audio: AudioStream[];
  /** real video tracks first; attached pictures are listed but flagged */
  video: VideoStream[];
  /** the file carries the uploader's tags (title, comment, ...): never sent as it is (as-is.ts) */
  tagged?: boolean;
}

export interface Silence {
  startS: number;
  endS: number;
}

export interface PlannedChunk {
  index: number;
  /** where the chunk starts on the source's timeline, overlap included */
  startS: number;
  endS: number;
  /** seconds at the start of this chunk that repeat the end of the previous one (0 for the first) */
  overlapS: number;
}

export interface EncodeSpec {
  kind: 'audio' | 'video';
  /** output container/extension: mp3, wav, m4a, amr, mp4 */
  format: string;
  audioCodec: string;
  sampleRate: number;
  channels: number;
  audioBitrateKbps?: number;
  /** absolute stream index of the audio track to take; undefined = no audio in the output */
  audioStream?: number;
  /** absolute stream index of the video track (video plans only) */
  videoStream?: number;
  video?: { codec: string; fps: number; maxWidth: number; maxHeight: number; crf: number; maxBitrateKbps?: number; width: number; height: number };
}

/** The ceilings one request must stay under, after combining the model's limits with the input mode and prompt. */
export interface EffectiveLimits {
  maxSeconds: number;
  maxBytes: number;
  /** base64 characters allowed for the chunk (the data-URL prefix already reserved) */
  maxBase64Chars: number;
  maxInputTokens: number;
  promptTokens: number;
}

export interface Plan {
  mode: 'audio' | 'video';
  chunks: PlannedChunk[];
  encode: EncodeSpec;
  /** why the chunk length is what it is (the binding limit) */
  reason: string;
  targetS: number;
  /** the longest chunk the plan allows itself (overlap included) */
  maxChunkS: number;
  overlapS: number;
  limits: EffectiveLimits;
  /** planning decisions a user may want to know about (fallbacks, clamps) */
  notes: string[];
}

/** A chunk as cut and measured on disk: offsets are the real cut points on the source's timeline. */
export interface CutChunk {
  index: number;
  file: string;
  startS: number;
  /** the decodable length of the chunk file */
  durationS: number;
  endS: number;
  overlapS: number;
  bytes: number;
  base64Chars: number;
  format: string;
}
