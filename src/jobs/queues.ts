/** BullMQ plumbing: connections and one Queue per stage, all under the configured prefix. */
import { FlowProducer, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { type Payloads, STAGES, type Stage } from './catalog.ts';
import { QUEUE_POLICY } from './policy.ts';

export function redisConnection(url: string): Redis {
  // BullMQ requires maxRetriesPerRequest: null on its blocking connections.
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
}

export type Queues = { [S in Stage]: Queue<Payloads[S], unknown, S> };

export function queueName(stage: Stage): string {
  return `omnibatch-${stage}`;
}

export function openQueues(connection: Redis, prefix: string): Queues {
  const q = {} as Record<Stage, Queue>;
  for (const stage of STAGES) {
    q[stage] = new Queue(queueName(stage), { connection, prefix, defaultJobOptions: QUEUE_POLICY[stage].job });
  }
  return q as unknown as Queues;
}

export function openFlowProducer(connection: Redis, prefix: string): FlowProducer {
  return new FlowProducer({ connection, prefix });
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => (q as Queue).close()));
}
