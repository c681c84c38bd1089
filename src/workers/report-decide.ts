/**
 * report's decision, pure: which webhook the run's end sends. (Whether a failed write of the run's documents
 * ends the run is failure-decide.ts's isFinalAttempt, as for every job.)
 */
import type { StoredBody, WebhookEvent } from '../jobs/catalog.ts';
import type { RunSpec, RunState } from '../runs/types.ts';
import { runKey } from '../storage/keys.ts';

/** The webhook of the run's end, when the run asked for one: it names the stored report, read at delivery. */
export function endNotification(
  spec: Pick<RunSpec, 'runId' | 'notifyUrl' | 'destination' | 'allowUnsignedWebhooks'>,
  status: RunState['status'],
): { url: string; event: WebhookEvent; bodyRef: StoredBody; allowUnsigned: boolean } | undefined {
  if (!spec.notifyUrl) return undefined;
  const event: WebhookEvent = status === 'completed' || status === 'completed_with_failures' ? 'run.completed' : 'run.stopped';
  return {
    url: spec.notifyUrl,
    event,
    bodyRef: { destination: spec.destination, key: runKey(spec.runId, 'report.json') },
    allowUnsigned: spec.allowUnsignedWebhooks === true,
  };
}
