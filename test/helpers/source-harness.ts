/** A pipeline harness with an empty local source folder (`<tmp>/in`) to fill, and its workers started. */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Harness, startHarness } from './pipeline.ts';

export async function harnessWithSource(fill: (src: string, h: Harness) => Promise<void>): Promise<{ h: Harness; src: string }> {
  const h = await startHarness();
  const src = path.join(h.tmp, 'in');
  await mkdir(src, { recursive: true });
  await fill(src, h);
  await h.startWorkers({ inferConcurrency: 4 });
  return { h, src };
}
