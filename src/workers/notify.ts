/**
 * notify: delivers one webhook (the run's end, or its 80% budget alert). The job is the notification's
 * durable copy: it outlives the worker that enqueued it, and the queue retries a failed delivery with backoff
 * (jobs/policy.ts), a receiver's Retry-After included. The secret comes from this worker's settings, never
 * from the job; unsigned only when the operator or the run allowed it.
 */
import type { Job } from 'bullmq';
import { jobIds, type NotifyPayload } from '../jobs/catalog.ts';
import { sendWebhook, type DeliveryResult, type WebhookEvent } from '../ops/webhook.ts';
import type { Context, JobContext } from './context.ts';

export async function notify(job: Job<NotifyPayload>, ctx: JobContext): Promise<DeliveryResult> {
  const d = job.data;
  return sendWebhook(d.url, d.event, d.body, {
    secret: ctx.cfg.webhookSecret,
    allowUnsigned: ctx.cfg.allowUnsignedWebhooks || d.allowUnsigned,
    deliveryId: d.deliveryId,
    log: ctx.log,
    signal: ctx.signal,
  });
}

/**
 * Queues a notification of the run's; idempotent per run, event and generation (the job id), so a redone job
 * that enqueues it again adds nothing. The receiver dedupes on the delivery id: `<runId>.<generation>` for the
 * run's end (the documented contract), `<runId>.<event>.<generation>` for the rest.
 */
export async function enqueueNotify(
  ctx: Context,
  args: { runId: string; url: string; event: WebhookEvent; body: unknown; allowUnsigned: boolean; generation?: number },
): Promise<void> {
  const generation = args.generation ?? 0;
  const runEnd = args.event === 'run.completed' || args.event === 'run.stopped' || args.event === 'run.failed';
  const payload: NotifyPayload = {
    url: args.url,
    event: args.event,
    body: args.body,
    runId: args.runId,
    allowUnsigned: args.allowUnsigned,
    deliveryId: runEnd ? `${args.runId}.${generation}` : `${args.runId}.${args.event}.${generation}`,
  };
  // run.completed and run.stopped of one generation share a job id: a run ends once.
  await ctx.queues.notify.add('notify', payload, { jobId: jobIds.notify(args.runId, runEnd ? 'run.end' : args.event, generation) });
}
