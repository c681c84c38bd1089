/** Media facts (from ffprobe) and chunk plans: the data the planner and the cutter exchange. */
export interface AudioStream {
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
  sizeBytes: number;
  container: string;
  bitrate?: number;
  audio: AudioStream[];
  video: VideoStream[];
}

export interface Silence { startS: number; endS: number }

export interface PlannedChunk {
  index: number;
  startS: number;
  endS: number;
}

export interface EncodeSpec {
  kind: 'audio' | 'video';
  /** output container/extension: mp3, wav, m4a, amr, mp4 */
  format: string;
  audioCodec: string;
  sampleRate: number;
  channels: number;
  audioBitrateKbps?: number;
  video?: { codec: string; fps: number; maxWidth: number; maxHeight: number; crf: number; maxBitrateKbps?: number };
}

export interface Plan {
  chunks: PlannedChunk[];
  encode: EncodeSpec;
  /** why the chunk length is what it is (the binding limit) */
  reason: string;
  targetS: number;
  overlapS: number;
}

/** A chunk as cut and measured on disk: offsets are the real cut points on the source's timeline. */
export interface CutChunk {
  index: number;
  file: string;
  startS: number;
  durationS: number;
  endS: number;
  bytes: number;
  base64Chars: number;
  format: string;
}
