/**
 * What an infer job does next, as data: the handler (infer.ts) gathers the facts and carries out the answer.
 * Reservations are effects, so the decision is a step function: it asks for a budget reservation, then for
 * a TPM one, and the handler calls it again with each answer; every branch is testable without Redis.
 */
import { estimateChunkCost, estimateChunkTokens, outputBound } from '../cost/estimate.ts';
import type { PricingOverride } from '../cost/price.ts';
import type { InferPayload } from '../jobs/catalog.ts';
import { modelOf, type Via } from '../models/catalog.ts';
import type { ChunkResult, RunSpec, StopReason } from '../runs/types.ts';
import { TASK_SPECS } from '../tasks/catalog.ts';

export interface InferFacts {
  spec: Pick<RunSpec, 'model' | 'modelEntry' | 'region' | 'task' | 'prompt' | 'protocol' | 'budgetMicros'>;
  chunk: Pick<InferPayload, 'kind' | 'startS' | 'endS' | 'video'>;
  pricing?: PricingOverride;
  /** the global tokens-per-minute quota of the model (undefined: none) */
  tpm?: number;
  /** false outside a worker: a job that cannot be delayed sends without a TPM reservation */
  canDelay: boolean;
  fileOpen: boolean;
  /** the file has a newer generation than this job's */
  superseded: boolean;
  stop?: StopReason;
  /** the chunk's staged result: the request already succeeded */
  staged?: ChunkResult;
  /** the answer to `reserve-budget` (undefined: not asked yet) */
  budgetGranted?: boolean;
  /** the answer to `reserve-tokens` (undefined: not asked yet) */
  tokens?: { id: string } | { waitMs: number };
  /** --via batch: the budget reserves at the Batch rate, and no TPM window applies (Batch has its own queue) */
  via?: Via;
}

export type InferDecision =
  | { kind: 'skip'; reason: 'file already finished' | 'file re-planned' }
  /** the run is stopping: the file ends as not run */
  | { kind: 'not-run'; stop: StopReason }
  /** record the staged result again (idempotent) and settle its budget; no request */
  | { kind: 'reuse'; result: ChunkResult; settleBudget: boolean }
  | { kind: 'reserve-budget'; estimateMicros: number; budgetMicros: number }
  /** a budget cannot cover a chunk it has no price for */
  | { kind: 'unpriced' }
  /** the reservation was refused: the run stops for its budget */
  | { kind: 'stop-budget' }
  /** `outputPrior`: the part of `tokens` that is the task's expected output (learnt from settled requests) */
  | { kind: 'reserve-tokens'; tokens: number; tpm: number; outputPrior: number }
  /** the model's TPM window is full: this job (not the queue) waits */
  | { kind: 'wait-tpm'; delayMs: number }
  /** `reservation`: the TPM reservation's id and the output prior it was made with (settled after the request) */
  | { kind: 'send'; reservation?: { id: string; outputPrior: number }; sendMaxOutputTokens?: number };

export function decideInfer(f: InferFacts): InferDecision {
  if (!f.fileOpen) return { kind: 'skip', reason: 'file already finished' };
  if (f.superseded) return { kind: 'skip', reason: 'file re-planned' };
  if (f.stop) return { kind: 'not-run', stop: f.stop };
  const budgeted = f.spec.budgetMicros !== undefined;
  if (f.staged) return { kind: 'reuse', result: f.staged, settleBudget: budgeted };

  const { spec } = f;
  const model = modelOf(spec)!.id; // the catalogue's id: a served alias sizes and queues as its model
  const seconds = f.chunk.endS - f.chunk.startS;
  const sizing = { model, region: spec.region, task: spec.task, prompt: spec.prompt, ...(f.chunk.video && { video: f.chunk.video }) };
  // Every request carries the task's output cap, budget or not (responses: none is sent, the model's ceiling
  // bounds it); under a budget the reservation assumes that bound, so it is an upper bound, not a guess.
  const bound = outputBound(spec.protocol, seconds, spec.task, model);
  const maxOutputTokens = bound.reserve;
  if (spec.budgetMicros !== undefined) {
    if (f.budgetGranted === undefined) {
      const estimate = estimateChunkCost(seconds, {
        ...sizing,
        pricing: f.pricing,
        audioOut: TASK_SPECS[spec.task].wantsAudioOut,
        maxOutputTokens,
        ...(f.via && { via: f.via }),
      });
      if (!estimate.priced) return { kind: 'unpriced' };
      return { kind: 'reserve-budget', estimateMicros: estimate.amountMicros, budgetMicros: spec.budgetMicros };
    }
    if (!f.budgetGranted) return { kind: 'stop-budget' };
  }
  // TPM: reserve the known input tokens plus the task's expected output before sending; settled to the
  // real usage after, or given back when the request failed without using any.
  let reservation: { id: string; outputPrior: number } | undefined;
  if (f.tpm && f.via !== 'batch') {
    const t = estimateChunkTokens(seconds, { ...sizing, ...(maxOutputTokens !== undefined && { maxOutputTokens }) });
    if (f.tokens === undefined) return { kind: 'reserve-tokens', tokens: t.input + t.output, tpm: f.tpm, outputPrior: t.output };
    if ('id' in f.tokens) reservation = { id: f.tokens.id, outputPrior: t.output };
    else if (f.canDelay) return { kind: 'wait-tpm', delayMs: f.tokens.waitMs };
  }
  return { kind: 'send', ...(reservation && { reservation }), ...(bound.send && { sendMaxOutputTokens: bound.send }) };
}
