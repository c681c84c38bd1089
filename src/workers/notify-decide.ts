/**
 * notify's decisions, pure: where the notification's body comes from, and how it may be signed. The secret is
 * this worker's setting, never the job's; unsigned only when the operator or the run allowed it.
 */
import type { NotifyPayload, StoredBody } from '../jobs/catalog.ts';

export interface NotifySettings {
  webhookSecret?: string;
  allowUnsignedWebhooks: boolean;
}

export interface DeliveryPlan {
  /** read the stored document at this attempt (a report rewritten by a later `retry` is sent as it now stands) */
  body: { stored: StoredBody } | { inline: unknown };
  signing: { secret?: string; allowUnsigned: boolean };
}

export function decideDelivery(d: NotifyPayload, settings: NotifySettings): DeliveryPlan {
  return {
    body: d.bodyRef ? { stored: d.bodyRef } : { inline: d.body },
    signing: { secret: settings.webhookSecret, allowUnsigned: settings.allowUnsignedWebhooks || d.allowUnsigned },
  };
}
