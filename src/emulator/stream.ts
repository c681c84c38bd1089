/**
 * Plays one answer through a protocol writer onto the response: reasoning first, then text with the
 * speech interleaved (each text piece followed by its share of the audio chunks), then the final frames.
 * In-stream faults strike after about half of the text: `cut` ends the body without the final frames,
 * `stall` stops writing and leaves the connection open, the error kinds send the protocol's error frame.
 */
import type { ServerResponse } from 'node:http';
import { pcmChunkCount, pcmChunks } from './audio.ts';
import { apiErrors } from './errors.ts';
import type { StreamFault } from './faults.ts';
import type { StreamWriter } from './protocols/writer.ts';
import { FrameSink } from './sink.ts';

/** Seconds of speech per audio delta. */
export const AUDIO_CHUNK_S = 0.5;

export type StreamOutcome = 'completed' | 'faulted' | 'stalled' | 'gone';

export interface StreamPlan {
  reasoning: readonly string[];
  text: readonly string[];
  audioSeconds?: number;
}

export async function playStream(res: ServerResponse, writer: StreamWriter, plan: StreamPlan, latencyMs: number, fault?: StreamFault): Promise<StreamOutcome> {
  const audioTotal = writer.streamsAudio && plan.audioSeconds !== undefined ? pcmChunkCount(plan.audioSeconds, AUDIO_CHUNK_S) : 0;
  const sink = new FrameSink(res, latencyMs, plan.reasoning.length + plan.text.length + audioTotal + 3);
  const faultAt = Math.max(1, Math.floor(plan.text.length / 2));
  const audio = audioTotal > 0 ? pcmChunks(plan.audioSeconds!, AUDIO_CHUNK_S) : undefined;
  let audioSent = 0;

  const send = async (frames: string | string[]): Promise<boolean> => {
    for (const f of Array.isArray(frames) ? frames : [frames]) {
      if (f && !(await sink.write(f))) return false;
    }
    return true;
  };

  if (!(await send(writer.start()))) return 'gone';
  for (const r of plan.reasoning) if (!(await send(writer.reasoning(r)))) return 'gone';
  for (let i = 0; i < plan.text.length; i++) {
    if (!(await send(writer.text(plan.text[i])))) return 'gone';
    const due = Math.round((audioTotal * (i + 1)) / plan.text.length);
    for (; audio && audioSent < due; audioSent++) {
      const next = audio.next();
      if (next.done || !(await send(writer.audio(next.value)))) return 'gone';
    }
    if (fault && i + 1 === faultAt) return strike(res, writer, sink, fault);
  }
  if (fault) return strike(res, writer, sink, fault); // an answer with no text pieces
  if (!(await send(writer.finish()))) return 'gone';
  res.end();
  return 'completed';
}

async function strike(res: ServerResponse, writer: StreamWriter, sink: FrameSink, fault: StreamFault): Promise<StreamOutcome> {
  if (fault === 'stall') return 'stalled';
  if (fault === 'inspect_output' || fault === 'stream_rate_limit') {
    const err = fault === 'inspect_output' ? apiErrors.inspectOutput() : apiErrors.allocationQuota();
    for (const f of writer.error(err)) if (!(await sink.write(f))) return 'gone';
  }
  res.end();
  return 'faulted';
}
