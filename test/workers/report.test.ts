/** report over fakes: the run's documents, its final status, staging gone, and the end webhook queued (or not). */
import { describe, expect, it } from 'vitest';
import type { CollectedReport } from '../../src/lifecycle/run-report.ts';
import type { RunState } from '../../src/runs/types.ts';
import { runKey, stagingPrefix } from '../../src/storage/keys.ts';
import { OmniError } from '../../src/util/errors.ts';
import { runReport } from '../../src/workers/report.ts';
import { endNotification } from '../../src/workers/report-decide.ts';
import { fakeSpec } from '../fakes/infer.ts';
import { fakeReportPorts } from '../fakes/report.ts';

const collected = (status: RunState['status']): CollectedReport =>
  ({
    status,
    report: { status } as unknown as CollectedReport['report'],
    costCsv: 'uri,status\n',
    failuresJsonl: '',
    skippedJsonl: '{"uri":"x"}\n',
  }) as CollectedReport;
const job = (attemptsMade = 0) => ({ data: { runId: 'r1' }, attemptsMade, opts: { attempts: 3 } });

describe('endNotification', () => {
  it.each([
    ['completed', 'run.completed'],
    ['completed_with_failures', 'run.completed'],
    ['cancelled', 'run.stopped'],
    ['stopped_budget', 'run.stopped'],
    ['stopped_error', 'run.stopped'],
  ] as const)('%s -> %s, naming the stored report', (status, event) => {
    const n = endNotification(fakeSpec({ notifyUrl: 'https://hooks.example/x' }), status);
    expect(n).toEqual({
      url: 'https://hooks.example/x',
      event,
      bodyRef: { destination: 'mem://out/', key: runKey('r1', 'report.json') },
      allowUnsigned: false,
    });
  });

  it('none without a notify URL; unsigned only when the run allowed it', () => {
    expect(endNotification(fakeSpec(), 'completed')).toBeUndefined();
    expect(endNotification(fakeSpec({ notifyUrl: 'https://h/x', allowUnsignedWebhooks: true }), 'completed')?.allowUnsigned).toBe(true);
  });
});

describe('runReport', () => {
  it('writes the four documents, ends the run with its status, expires its costs, removes staging, queues the webhook', async () => {
    const f = fakeReportPorts(fakeSpec({ notifyUrl: 'https://hooks.example/x' }), collected('completed'), { generation: 2, retentionDays: 1 });
    f.dst.put(`${stagingPrefix('r1')}f1/0/chunk.mp3`, 'left over');
    expect(await runReport(job(), f.ports)).toEqual({ status: 'completed' });
    expect(f.dst.json(runKey('r1', 'report.json'))).toEqual({ status: 'completed' });
    expect(f.dst.text(runKey('r1', 'cost.csv'))).toBe('uri,status\n');
    expect(f.dst.text(runKey('r1', 'failures.jsonl'))).toBe('');
    expect(f.dst.text(runKey('r1', 'skipped.jsonl'))).toBe('{"uri":"x"}\n');
    expect([...f.dst.objects.keys()].filter((k) => k.startsWith(stagingPrefix('r1')))).toEqual([]);
    expect(f.finals).toEqual([{ runId: 'r1', status: 'completed', retentionS: 86_400 }]);
    expect(f.expired).toEqual([{ runId: 'r1', seconds: 86_400 }]);
    expect(f.calibrated).toEqual([{ runId: 'r1', model: fakeSpec().model }]);
    expect(f.notified).toEqual([{ ...endNotification(fakeSpec({ notifyUrl: 'https://hooks.example/x' }), 'completed'), runId: 'r1', generation: 2 }]);
  });

  it('a failed write is retried; on the last attempt the run ends stopped_error, saying where and why', async () => {
    const f = fakeReportPorts(fakeSpec(), collected('completed'));
    f.dst.putJson = async () => {
      throw new OmniError('storage_unavailable', 'the bucket blinked');
    };
    await expect(runReport(job(0), f.ports)).rejects.toMatchObject({ code: 'storage_unavailable' });
    expect(f.reportFailures).toEqual([]);
    await expect(runReport(job(2), f.ports)).rejects.toMatchObject({ code: 'storage_unavailable' });
    expect(f.reportFailures).toEqual([{ runId: 'r1', message: `mem://dst/${runKey('r1', 'report.json')}: storage_unavailable: the bucket blinked` }]);
    expect(f.calibrated).toEqual([]);
    expect(f.finals).toEqual([]);
    expect(f.notified).toEqual([]);
  });
});
