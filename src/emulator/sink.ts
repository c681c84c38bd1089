/**
 * Writes a response's frames with backpressure (a slow reader slows the emulator, never its memory) and
 * paces them so the whole stream takes about `latencyMs`. Stops quietly when the client goes away.
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export class FrameSink {
  private sent = 0;
  private readonly start = Date.now();
  private readonly gone = new AbortController();

  /**
   * @param totalFrames how many frames the stream will have (to spread the latency over them)
   */
  constructor(
    private readonly res: ServerResponse,
    private readonly latencyMs: number,
    private readonly totalFrames: number,
  ) {
    res.on('close', () => this.gone.abort());
  }

  get closed(): boolean {
    return this.gone.signal.aborted || this.res.destroyed;
  }

  get signal(): AbortSignal {
    return this.gone.signal;
  }

  /** Writes one frame; false when the client has gone. */
  async write(frame: string): Promise<boolean> {
    if (this.closed) return false;
    if (this.latencyMs > 0 && this.totalFrames > 0) {
      const due = this.start + (this.latencyMs * (this.sent + 1)) / this.totalFrames;
      const wait = due - Date.now();
      if (wait > 0 && !(await pause(wait, this.gone.signal))) return false;
    }
    this.sent++;
    if (this.res.write(frame)) return !this.closed;
    return drained(this.res, this.gone.signal);
  }
}

/** Waits ms; false when aborted first. */
export async function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

function drained(res: ServerResponse, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off('drain', onDrain);
      signal.removeEventListener('abort', onAbort);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onAbort = () => done(false);
    res.once('drain', onDrain);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
