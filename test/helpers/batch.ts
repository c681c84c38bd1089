import { cp, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { EmulatorOptions } from '../../src/emulator/server.ts';
import { media } from './paths.ts';
import { type Harness, startHarness } from './pipeline.ts';

/** Settings for --via batch runs against the emulator: seconds, not hours (its Batch timing and our packer's and poller's waits). */
export const BATCH_ENV = {
  OMNI_REGION: 'cn',
  OMNIBATCH_BATCH_QUIET_MS: '300',
  OMNIBATCH_BATCH_MAX_WAIT_MS: '2000',
  OMNIBATCH_BATCH_POLL_MS: '100',
  OMNIBATCH_BATCH_POLL_MAX_MS: '500',
};
export const FAST_BATCH = { batchValidatingMs: 50, batchInProgressMs: 100, batchFinalizingMs: 50, batchCancellingMs: 50 };

/** A harness for --via batch runs, workers started, with the batch tests' two files in `<tmp>/in`: 70 s of speech (long.wav) and 11 s of JFK. */
export async function batchHarness(emulator: EmulatorOptions, env: Record<string, string> = {}): Promise<{ h: Harness; src: string }> {
  const h = await startHarness({ emulator: { ...FAST_BATCH, ...emulator }, env: { ...BATCH_ENV, ...env } });
  const src = path.join(h.tmp, 'in');
  await mkdir(src, { recursive: true });
  await cp(media('funasr__0.wav'), path.join(src, 'long.wav'));
  await cp(media('whisper__jfk.flac'), path.join(src, 'jfk.flac'));
  await h.startWorkers({ inferConcurrency: 4 });
  return { h, src };
}
