/** What a protocol renders: the frames of one streamed answer, its in-stream errors, and its non-stream body. */
import type { Answer, ApiError } from '../types.ts';

export interface ReplyContext {
  /** chatcmpl-<uuid> / resp_<hex> / the native request id */
  id: string;
  requestId: string;
  created: number;
  /** the model name as requested */
  model: string;
  answer: Answer;
  includeUsage: boolean;
  incremental: boolean;
  /** responses: how many output_item.done events carry the speech (default 1) */
  audioParts?: number;
}

export interface StreamWriter {
  /** whether `audio()` frames carry the speech (responses sends it whole at the end instead) */
  readonly streamsAudio: boolean;
  start(): string[];
  reasoning(delta: string): string;
  text(delta: string): string;
  audio(pcm: Buffer): string;
  /** the final frames: finish reason, usage, terminator */
  finish(): string[];
  /** an error inside a 200 stream, with whatever terminator the protocol sends after one */
  error(err: ApiError): string[];
  /** the JSON body of a non-streaming answer */
  body(): Record<string, unknown>;
}
