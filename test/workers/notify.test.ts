/** notify over fakes: the body is the stored document as it stands at delivery, signed with the worker's secret. */
import { describe, expect, it } from 'vitest';
import type { NotifyPayload } from '../../src/jobs/catalog.ts';
import { runNotify } from '../../src/workers/notify.ts';
import { decideDelivery } from '../../src/workers/notify-decide.ts';
import { fakeNotifyPorts } from '../fakes/notify.ts';

const payload = (over: Partial<NotifyPayload> = {}): NotifyPayload => ({
  url: 'https://hooks.example/omnibatch',
  event: 'run.completed',
  runId: 'r1',
  deliveryId: 'd-1',
  allowUnsigned: false,
  bodyRef: { destination: 's3://b/out/', key: '_runs/r1/report.json' },
  ...over,
});

describe('decideDelivery', () => {
  it.each([
    [
      'stored body, signed with the worker secret',
      payload(),
      { webhookSecret: 's', allowUnsignedWebhooks: false },
      true,
      { secret: 's', allowUnsigned: false },
    ],
    ['inline body (budget alert)', payload({ bodyRef: undefined, body: { spent: 1 } }), { allowUnsignedWebhooks: false }, false, { allowUnsigned: false }],
    ['the run allowed unsigned', payload({ allowUnsigned: true }), { allowUnsignedWebhooks: false }, true, { allowUnsigned: true }],
    ['the operator allowed unsigned', payload(), { allowUnsignedWebhooks: true }, true, { allowUnsigned: true }],
  ])('%s', (_name, d, settings, stored, signing) => {
    const plan = decideDelivery(d, settings);
    expect('stored' in plan.body).toBe(stored);
    expect(plan.signing).toEqual({ secret: undefined, ...signing });
  });

  it('never takes a secret from the job', () => {
    const d = { ...payload(), secret: 'from-the-job' } as NotifyPayload;
    expect(decideDelivery(d, { allowUnsignedWebhooks: false }).signing.secret).toBeUndefined();
  });
});

describe('runNotify', () => {
  it('sends the stored report as it stands at this attempt, with the same delivery id', async () => {
    const f = fakeNotifyPorts({ webhookSecret: 'whsec', allowUnsignedWebhooks: false });
    const d = payload();
    f.store('s3://b/out/').put('_runs/r1/report.json', JSON.stringify({ status: 'completed', counts: { total: 2 } }));
    await runNotify(d, f.ports);
    f.store('s3://b/out/').put('_runs/r1/report.json', JSON.stringify({ status: 'completed', counts: { total: 3 } }));
    await runNotify(d, f.ports);
    expect(f.sent.map((s) => (s.body as { counts: { total: number } }).counts.total)).toEqual([2, 3]);
    expect(f.sent.map((s) => [s.url, s.event, s.opts.deliveryId, s.opts.secret])).toEqual([
      ['https://hooks.example/omnibatch', 'run.completed', 'd-1', 'whsec'],
      ['https://hooks.example/omnibatch', 'run.completed', 'd-1', 'whsec'],
    ]);
  });

  it('sends an inline body without reading storage', async () => {
    const f = fakeNotifyPorts({ allowUnsignedWebhooks: true });
    await runNotify(payload({ event: 'run.budget_threshold', bodyRef: undefined, body: { spent_micros: 800 } }), f.ports);
    expect(f.sent[0]).toMatchObject({ event: 'run.budget_threshold', body: { spent_micros: 800 }, opts: { allowUnsigned: true } });
    expect(f.store('s3://b/out/').reads).toEqual([]);
  });

  it('a stored body that is gone fails the delivery with storage_not_found, not retried, and sends nothing', async () => {
    const f = fakeNotifyPorts({ webhookSecret: 's', allowUnsignedWebhooks: false });
    await expect(runNotify(payload(), f.ports)).rejects.toMatchObject({ code: 'storage_not_found', retryable: false });
    expect(f.sent).toEqual([]);
  });
});
