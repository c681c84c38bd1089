/**
 * notify: delivers one webhook (the run's end, or its 80% budget alert). The job is the notification's
 * durable copy: it outlives the worker that enqueued it, and the queue retries a failed delivery with backoff
 * (jobs/policy.ts), a receiver's Retry-After included. Payloads carry keys, not documents
 * (docs/architecture.md, "The queues"): the run's end names its stored report, read here at each attempt.
 * The decisions are in notify-decide.ts; this file runs them over narrow ports (fakes: test/fakes/notify.ts).
 */
import type { Job } from 'bullmq';
import type { JobContext } from '../app/context.ts';
import type { NotifyPayload, StoredBody, WebhookEvent } from '../jobs/catalog.ts';
import { type DeliveryResult, type SendOptions, sendWebhook } from '../ops/webhook.ts';
import type { Storage } from '../storage/types.ts';
import { OmniError } from '../util/errors.ts';
import type { Logger } from '../util/logger.ts';
import { decideDelivery, type NotifySettings } from './notify-decide.ts';

/** Everything notify touches. */
export interface NotifyPorts {
  settings: NotifySettings;
  storage(location: string): Pick<Storage, 'getText' | 'uriOf'>;
  send(url: string, event: WebhookEvent, body: unknown, opts: SendOptions): Promise<DeliveryResult>;
  log: Logger;
  signal?: AbortSignal;
}

export function notifyPorts(ctx: JobContext): NotifyPorts {
  return {
    settings: { webhookSecret: ctx.cfg.webhookSecret, allowUnsignedWebhooks: ctx.cfg.allowUnsignedWebhooks },
    storage: (location) => ctx.storage(location),
    send: sendWebhook,
    log: ctx.log,
    signal: ctx.signal,
  };
}

export async function notify(job: Job<NotifyPayload>, ctx: JobContext): Promise<DeliveryResult> {
  return runNotify(job.data, notifyPorts(ctx));
}

export async function runNotify(d: NotifyPayload, p: NotifyPorts): Promise<DeliveryResult> {
  const plan = decideDelivery(d, p.settings);
  const body = 'stored' in plan.body ? await storedBody(p, plan.body.stored) : plan.body.inline;
  return p.send(d.url, d.event, body, { ...plan.signing, deliveryId: d.deliveryId, log: p.log, signal: p.signal });
}

/** The stored document, parsed. A storage blink is retried with the delivery; a document that is gone is not. */
async function storedBody(p: NotifyPorts, ref: StoredBody): Promise<unknown> {
  const store = p.storage(ref.destination);
  const text = await store.getText(ref.key);
  if (text === undefined) throw new OmniError('storage_not_found', `the notification's body ${store.uriOf(ref.key)} is gone`);
  return JSON.parse(text);
}
