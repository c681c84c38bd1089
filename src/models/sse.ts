/**
 * Bytes -> SSE events, synchronous and pure, so a recorded stream can be replayed split at every byte
 * offset. The network hands us arbitrary byte chunks: a streaming TextDecoder keeps a multi-byte UTF-8
 * character split across chunks intact, and eventsource-parser handles lines split anywhere, `\r\n`,
 * and both `data: x` and `data:x` (the native protocol writes no space after the colon).
 */
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { OmniError } from '../util/errors.ts';

export interface SseEvent {
  event?: string;
  id?: string;
  data: string;
  /** comment lines seen since the previous event: the native protocol puts `:HTTP_STATUS/429` here */
  comments: string[];
  /** flushed at end of input without its blank line: the data may be cut short */
  partial?: boolean;
}

export interface SseDecoderOptions {
  /**
   * Ceiling on one buffered event, in characters. Chat and native events are small deltas; a responses
   * `output_item.done` carries the whole audio answer as base64 in one event, so its client allows more.
   */
  maxEventChars?: number;
}

export const DEFAULT_MAX_EVENT_CHARS = 16 * 1024 * 1024;

export class SseDecoder {
  private readonly text = new TextDecoder('utf-8');
  private readonly parser: EventSourceParser;
  private out: SseEvent[] = [];
  private comments: string[] = [];
  private failure: OmniError | undefined;
  private flushing = false;
  constructor(opts: SseDecoderOptions = {}) {
    this.parser = createParser({
      maxBufferSize: opts.maxEventChars ?? DEFAULT_MAX_EVENT_CHARS,
      onEvent: (ev) => {
        this.out.push({ event: ev.event, id: ev.id, data: ev.data, comments: this.comments, ...(this.flushing && { partial: true }) });
        this.comments = [];
      },
      onComment: (c) => {
        this.comments.push(c.trim());
      },
      onError: (err) => {
        if (err.type === 'max-buffer-size-exceeded') {
          this.failure = new OmniError('service_unknown', `stream event larger than ${opts.maxEventChars ?? DEFAULT_MAX_EVENT_CHARS} characters`);
        }
        // unknown fields and bad retry values are ignored, as EventSource does
      },
    });
  }

  /** Feeds one chunk of bytes; returns the events it completed. */
  push(bytes: Uint8Array): SseEvent[] {
    const s = this.text.decode(bytes, { stream: true });
    return this.feed(s);
  }

  /**
   * End of input. An event whose blank line never came is still dispatched (marked `partial`): a
   * complete final frame without its trailing newline is accepted, a cut one fails to parse and the
   * protocol reports stream_truncated.
   */
  end(): SseEvent[] {
    const events = this.feed(this.text.decode());
    // A blank line dispatches only an event that has data, so this yields nothing after a clean end.
    this.flushing = true;
    events.push(...this.feed('\n\n'));
    this.flushing = false;
    return events;
  }

  private feed(s: string): SseEvent[] {
    if (this.failure) throw this.failure;
    if (s) this.parser.feed(s);
    if (this.failure) throw this.failure;
    const events = this.out;
    this.out = [];
    return events;
  }
}
