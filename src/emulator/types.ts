/**
 * The emulator's internal shapes: a request normalized from any of the three protocols, what was measured
 * of its media, and the API error every refusal becomes before a protocol renders its envelope.
 */

import type { ModelSpec } from '../models/catalog.ts';
import type { Marker } from './marker.ts';

export type WireProtocol = 'chat' | 'responses' | 'native';

export type MediaPartKind = 'audio' | 'video' | 'image' | 'frames';

export interface MediaPart {
  kind: MediaPartKind;
  /** one URL (data:, http(s):, file:), or the frame URLs of an image-list video */
  urls: string[];
}

export interface ParsedMessage {
  role: string;
  texts: string[];
  media: MediaPart[];
}

export interface ParsedRequest {
  protocol: WireProtocol;
  /** the model name as sent (an alias stays an alias in the reply) */
  model: string;
  stream: boolean;
  /** compat: stream_options.include_usage; always true for the other protocols */
  includeUsage: boolean;
  /** native: incremental_output (otherwise every event repeats the whole text so far) */
  incremental: boolean;
  messages: ParsedMessage[];
  thinking: boolean;
  /** set when the output modalities include audio */
  audioOut?: { voice: string | undefined; format?: string | undefined };
  /** `modalities` exactly as sent (absent: the default, ["text"]) */
  modalities?: unknown;
  /** an `audio` parameter was sent (with or without audio in `modalities`) */
  audioParam?: boolean;
}

/** One refusal, protocol-neutral: native code and compat code/type, HTTP status, message. */
export interface ApiError {
  status: number;
  /** native envelope `code` (InvalidParameter, Throttling.RateQuota, ...) */
  code: string;
  /** compat envelope error.code / error.type */
  compatCode: string;
  compatType: string;
  message: string;
  /** the code DMXAPI's /v1/responses relays from upstream instead of compatCode (input overflow) */
  relayCode?: string;
  /** compat message when it differs from the native one */
  compatMessage?: string;
  retryAfterS?: number;
}

export function isApiError(v: unknown): v is ApiError {
  return typeof v === 'object' && v !== null && 'status' in v && 'compatCode' in v;
}

/** What ffprobe said about one media item (all seconds are decodable durations). */
export interface Measured {
  kind: 'audio' | 'video' | 'image';
  bytes: number;
  /** sha256 of the media bytes, hex */
  hash: string;
  durationS: number;
  /** the audio stream's facts (video: its audio track, if any) */
  hasAudio: boolean;
  channels: number;
  sampleRate: number;
  width: number;
  height: number;
  /** image-list videos: how many frames were sent */
  frames?: number;
  /** the pilot tone the sound starts with: test media carry emulator markers in it (marker.ts) */
  marker?: Marker;
}

/** Input tokens by modality and output tokens by kind: what a completed request bills. */
export interface Billed {
  input: { text: number; audio: number; image: number; video: number };
  output: { text: number; audio: number; reasoning: number };
}

/** Everything a protocol writer needs to render one answer. */
export interface Answer {
  spec: ModelSpec;
  text: string;
  reasoning: string;
  /** generated speech length, seconds (a whole number of 24 kHz samples) */
  audioSeconds?: number;
  billed: Billed;
}
