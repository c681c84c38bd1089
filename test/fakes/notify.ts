/** notify's ports in memory (src/workers/notify.ts NotifyPorts): a store per location, and a sender that records. */

import type { WebhookEvent } from '../../src/jobs/catalog.ts';
import type { SendOptions } from '../../src/ops/webhook.ts';
import { silentLogger } from '../../src/util/logger.ts';
import type { NotifyPorts } from '../../src/workers/notify.ts';
import type { NotifySettings } from '../../src/workers/notify-decide.ts';
import { MemoryStorage } from './storage.ts';

export interface Sent {
  url: string;
  event: WebhookEvent;
  body: unknown;
  opts: SendOptions;
}

export function fakeNotifyPorts(settings: NotifySettings): { ports: NotifyPorts; sent: Sent[]; store: (location: string) => MemoryStorage } {
  const stores = new Map<string, MemoryStorage>();
  const store = (location: string): MemoryStorage => {
    const s = stores.get(location) ?? new MemoryStorage();
    stores.set(location, s);
    return s;
  };
  const sent: Sent[] = [];
  const ports: NotifyPorts = {
    settings,
    storage: (location) => ({ getText: (key) => store(location).getText(key), uriOf: (key) => `${location}${key}` }),
    send: async (url, event, body, opts) => {
      sent.push({ url, event, body, opts });
      return { delivered: true, status: 200, deliveryId: opts.deliveryId ?? '' };
    },
    log: silentLogger,
  };
  return { ports, sent, store };
}
