/**
 * Whether the provider's Batch API (file input) can carry a run, decided from the catalogue before anything is
 * uploaded or spent. Pure. The Batch page serves the OpenAI-compatible chat endpoint only, text output only,
 * and per region its own list of models (catalog.ts `batch`).
 */
import { batchOffer, batchServed, findModel, type Region } from './catalog.ts';
import type { Protocol } from './types.ts';

export interface BatchAsk {
  /** the model name as the run sends it */
  model: string;
  region: Region;
  protocol: Protocol;
  task: string;
  /** the task asks for speech */
  audioOut: boolean;
}

/** Why Batch cannot carry this run (naming what would work), or undefined. */
export function batchRefusal(a: BatchAsk): string | undefined {
  const works = `Batch serves ${batchServed().join(', ')} over --protocol chat, text output only`;
  if (a.protocol !== 'chat') {
    return `--via batch needs --protocol chat (the OpenAI-compatible endpoint of DashScope); ${a.protocol} has no Batch API. ${works}`;
  }
  const spec = findModel(a.model);
  if (!spec?.batch) return `${a.model} is not served by the Batch API in any region. ${works}`;
  const offer = batchOffer(a.model, a.region);
  if (!offer) {
    const here = spec.batch[a.region];
    if (here) return `the Batch API takes ${here.names.join(', ')}, not the name ${a.model}, in region ${a.region}. ${works}`;
    return `the Batch API does not serve ${a.model} in region ${a.region} (OMNI_REGION). ${works}`;
  }
  if (a.audioOut && !offer.outputs.includes('audio')) {
    return `task ${a.task} asks for speech, which the Batch API does not produce for ${a.model} (text output only). Use --via realtime for ${a.task}, or a text task`;
  }
  return undefined;
}
