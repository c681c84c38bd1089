/**
 * notify: delivers one webhook (the run's end, or its 80% budget alert). The job is the notification's
 * durable copy: it outlives the worker that enqueued it, and the queue retries a failed delivery with backoff
 * (jobs/policy.ts), a receiver's Retry-After included. The secret comes from this worker's settings, never
 * from the job; unsigned only when the operator or the run allowed it. Payloads carry keys, not documents
 * (docs/architecture.md, "The queues"): the run's end names its stored report, read here at each attempt.
 */
import type { Job } from 'bullmq';
import type { NotifyPayload, StoredBody } from '../jobs/catalog.ts';
import { OmniError } from '../util/errors.ts';
import { sendWebhook, type DeliveryResult } from '../ops/webhook.ts';
import type { Context, JobContext } from '../app/context.ts';

export async function notify(job: Job<NotifyPayload>, ctx: JobContext): Promise<DeliveryResult> {
  const d = job.data;
  const body = d.bodyRef ? await storedBody(ctx, d.bodyRef) : d.body;
  return sendWebhook(d.url, d.event, body, {
    secret: ctx.cfg.webhookSecret,
    allowUnsigned: ctx.cfg.allowUnsignedWebhooks || d.allowUnsigned,
    deliveryId: d.deliveryId,
    log: ctx.log,
    signal: ctx.signal,
  });
}

/**
 * The stored document, parsed. Read at delivery, so a report rewritten by a later `retry` before this delivery
 * succeeds is sent as it now stands. A storage blink is retried with the delivery; a report that is gone is not.
 */
async function storedBody(ctx: Context, ref: StoredBody): Promise<unknown> {
  const text = await ctx.storage(ref.destination).getText(ref.key);
  if (text === undefined) {
    throw new OmniError('storage_not_found', `the notification's body ${ctx.storage(ref.destination).uriOf(ref.key)} is gone`);
  }
  return JSON.parse(text);
}
