/** Webhook notifications of a run's events go through the notify queue, so a delivery survives a worker restart. */

import type { Context } from '../app/context.ts';
import { jobIds, type NotifyPayload, type StoredBody } from '../jobs/catalog.ts';
import type { WebhookEvent } from '../ops/webhook.ts';

/**
 * Queues a notification of the run's; idempotent per run, event and generation (the job id), so a redone job
 * that enqueues it again adds nothing. The receiver dedupes on the delivery id: `<runId>.<generation>` for the
 * run's end (the documented contract), `<runId>.<event>.<generation>` for the rest.
 */
export async function enqueueNotify(
  ctx: Context,
  args: { runId: string; url: string; event: WebhookEvent; allowUnsigned: boolean; generation?: number } & ({ body: unknown } | { bodyRef: StoredBody }),
): Promise<void> {
  const generation = args.generation ?? 0;
  const runEnd = args.event === 'run.completed' || args.event === 'run.stopped' || args.event === 'run.failed';
  const payload: NotifyPayload = {
    url: args.url,
    event: args.event,
    ...('bodyRef' in args ? { bodyRef: args.bodyRef } : { body: args.body }),
    runId: args.runId,
    allowUnsigned: args.allowUnsigned,
    deliveryId: runEnd ? `${args.runId}.${generation}` : `${args.runId}.${args.event}.${generation}`,
  };
  // run.completed and run.stopped of one generation share a job id: a run ends once.
  await ctx.queues.notify.add('notify', payload, { jobId: jobIds.notify(args.runId, runEnd ? 'run.end' : args.event, generation) });
}
