/** The normalized shapes every protocol client returns and every consumer (pipeline, ask, bench) reads. */
export type Protocol = 'chat' | 'responses' | 'dashscope';
export const PROTOCOLS: readonly Protocol[] = ['chat', 'responses', 'dashscope'];

export interface Usage {
  input: { text: number; audio: number; image: number; video: number };
  output: { text: number; audio: number; reasoning: number };
  inputTotal: number;
  outputTotal: number;
  /**
   * The provider gave totals only (DMXAPI /v1/responses) and the modality split was inferred from the
   * request and the audio received: the ledger says so, and the text output is priced even beside audio.
   */
  inferred?: true;
}

export function emptyUsage(): Usage {
  return { input: { text: 0, audio: 0, image: 0, video: 0 }, output: { text: 0, audio: 0, reasoning: 0 }, inputTotal: 0, outputTotal: 0 };
}

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    input: {
      text: a.input.text + b.input.text,
      audio: a.input.audio + b.input.audio,
      image: a.input.image + b.input.image,
      video: a.input.video + b.input.video,
    },
    output: { text: a.output.text + b.output.text, audio: a.output.audio + b.output.audio, reasoning: a.output.reasoning + b.output.reasoning },
    inputTotal: a.inputTotal + b.inputTotal,
    outputTotal: a.outputTotal + b.outputTotal,
    ...((a.inferred || b.inferred) && { inferred: true as const }),
  };
}

export type MediaKind = 'audio' | 'video' | 'image';

export interface MediaInput {
  kind: MediaKind;
  /** a local file (sent as base64 data) or a URL the service fetches */
  source: { file: string } | { url: string };
  /** container/codec hint for input_audio.format (mp3, wav, ...) */
  format?: string;
  /** its length, when known: to split an unsplit usage total (a video's audio track is billed as audio) */
  seconds?: number;
  /** a video with a sound track (default true: the pipeline refuses silent videos) */
  hasAudio?: boolean;
}

export interface ModelRequest {
  model: string;
  prompt?: string;
  system?: string;
  media?: MediaInput;
  /** ask for spoken output too; the PCM is written as a WAV file at `file` while it streams */
  audioOut?: { voice: string; file: string };
  thinking?: boolean;
  maxOutputTokens?: number;
  signal?: AbortSignal;
  /** extra request headers (tests use x-emulator-fault) */
  headers?: Record<string, string>;
}

export interface ModelResult {
  text: string;
  reasoning: string;
  audio?: { file: string; bytes: number; seconds: number };
  usage: Usage;
  finishReason: string | null;
  requestId: string | null;
  model: string;
  /** when the answer began (Date.now(), this process's clock): about when the provider admitted and metered it */
  answeredAt?: number;
}

export interface EndpointConfig {
  protocol: Protocol;
  /** the base to which the protocol's path is appended */
  baseUrl: string;
  apiKey: string;
  /** `Bearer <key>` or the raw key (DMXAPI) */
  authStyle: 'bearer' | 'raw';
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
}

export interface StreamHooks {
  onText?: (delta: string) => void;
}

export interface ModelClient {
  readonly protocol: Protocol;
  complete(req: ModelRequest, hooks?: StreamHooks): Promise<ModelResult>;
}
