/**
 * Everything a handler needs, built once per process: config, logger, Redis, queues, the run store, storage
 * (one client per location, cached), the model client, prices. Handlers receive it; they build nothing.
 */
import type { FlowProducer, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { type Config, endpointOf } from '../config/index.ts';
import { loadPricing } from '../config/pricing.ts';
import type { PricingOverride } from '../cost/price.ts';
import { closeQueues, openFlowProducer, openQueues, type Queues, redisConnection } from '../jobs/queues.ts';
import { type BatchApi, createBatchApi } from '../models/batch-api.ts';
import { createClient } from '../models/client.ts';
import type { ModelClient } from '../models/types.ts';
import { BatchStore } from '../runs/batch-store.ts';
import { RunStore } from '../runs/store.ts';
import type { RunSpec } from '../runs/types.ts';
import { openStorage, storageOptionsFromConfig } from '../storage/index.ts';
import type { Storage } from '../storage/types.ts';
import { OmniError } from '../util/errors.ts';
import type { Logger } from '../util/logger.ts';
import { registerSecrets } from '../util/redact.ts';
import { Costs } from './costs.ts';

export interface Context {
  cfg: Config;
  log: Logger;
  redis: Redis;
  queues: Queues;
  flows: FlowProducer;
  runs: RunStore;
  costs: Costs;
  storage(location: string): Storage;
  client: ModelClient;
  /** the provider's Batch API (--via batch) and each run's batch state in Redis */
  batchApi: BatchApi;
  batches: BatchStore;
  pricing?: PricingOverride;
  /** the spec of a run, cached: specs never change after creation */
  spec(runId: string): Promise<RunSpec>;
  /** prefix of every omnibatch key in Redis besides BullMQ's own */
  keyPrefix: string;
  close(): Promise<void>;
}

/** Per-job view: the job's child logger and, inside a worker, the worker (for rateLimit). */
export interface JobContext extends Context {
  worker?: Worker;
  token?: string;
  /**
   * Aborted when the job is cancelled (BullMQ's cancelJob) or the worker shuts down past its grace: every child
   * process the job started is killed with its process group (media/ffmpeg.ts).
   */
  signal?: AbortSignal;
}

export function createContext(cfg: Config, log: Logger, opts: { client?: ModelClient; batchApi?: BatchApi } = {}): Context {
  // masked by value in every log line and stored message from here on
  registerSecrets([cfg.apiKey, cfg.webhookSecret, cfg.resultSecret, cfg.awsSecretAccessKey, cfg.awsSessionToken]);
  const redis = redisConnection(cfg.redisUrl);
  const queues = openQueues(redis, cfg.queuePrefix);
  const flows = openFlowProducer(redis, cfg.queuePrefix);
  const keyPrefix = `${cfg.queuePrefix}:omni`;
  const runs = new RunStore(redis, keyPrefix);
  const stores = new Map<string, Storage>();
  const specs = new Map<string, RunSpec>();
  const storageOpts = { ...storageOptionsFromConfig(cfg), log };
  return {
    cfg,
    log,
    redis,
    queues,
    flows,
    runs,
    keyPrefix,
    costs: new Costs(redis, keyPrefix),
    client: opts.client ?? createClient(endpointOf(cfg)),
    batchApi: opts.batchApi ?? createBatchApi(endpointOf(cfg)),
    batches: new BatchStore(redis, keyPrefix),
    pricing: loadPricing(cfg.pricingFile),
    storage(location) {
      let s = stores.get(location);
      if (!s) {
        s = openStorage(location, storageOpts);
        stores.set(location, s);
      }
      return s;
    },
    async spec(runId) {
      let s = specs.get(runId);
      if (!s) {
        s = await runs.spec(runId);
        if (!s) throw new OmniError('run_not_found', `no run ${runId}`);
        specs.set(runId, s);
      }
      return s;
    },
    async close() {
      await closeQueues(queues);
      await flows.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
