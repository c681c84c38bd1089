/**
 * scan's decisions (scan-decide.ts) as tables, and the handler over fakes: what is enqueued, skipped, failed or
 * redone, the run's counts, --max-files, a redone scan, a scheduled firing and the backpressure wait.
 */
import { describe, expect, it } from 'vitest';
import { jobIds } from '../../src/jobs/catalog.ts';
import { scheduledRunId } from '../../src/producers/schedules.ts';
import { fileIdOf, outputKey } from '../../src/storage/keys.ts';
import { OmniError } from '../../src/util/errors.ts';
import { runScan } from '../../src/workers/scan.ts';
import { decideFiring, decideListed, keyProblem, type ListedFacts, planPage, registrationCap, resultVerdict } from '../../src/workers/scan-decide.ts';
import { fakeSpec } from '../fakes/infer.ts';
import { FAKE_RESULT_SECRET, fakeScan, listed, putResult, scanJob } from '../fakes/scan.ts';
import { MemoryStorage } from '../fakes/storage.ts';

const facts = (over: Partial<ListedFacts> = {}): ListedFacts => ({ obj: listed('a.mp3'), registered: 1, destinationUri: 's3://b/out/', ...over });
const notMedia = { code: 'not_media' as const, message: 'a text file' };

describe('decideListed', () => {
  it.each([
    ['new: read', facts(), { kind: 'read', isNew: true }],
    ['--max-files reached: stop', facts({ registered: -1 }), { kind: 'stop' }],
    ['a redone scan, still pending at generation 0: read again, not counted', facts({ registered: 0, pendingAtFirst: true }), { kind: 'read', isNew: false }],
    ['a redone scan, taken care of: ignored', facts({ registered: 0, pendingAtFirst: false }), { kind: 'ignore' }],
    ['skipped unread, registered now', facts({ obj: listed('a.txt', { skip: notMedia }) }), { kind: 'skip-unread', ...notMedia }],
    ['skipped unread, registered before', facts({ obj: listed('a.txt', { skip: notMedia }), registered: 0 }), { kind: 'ignore' }],
    [
      'a manifest entry refused: fails alone',
      facts({ obj: listed('a.mp3', { problem: { code: 'storage_denied', message: 'no' } }) }),
      { kind: 'fail', isNew: true, problem: { code: 'storage_denied', message: 'no' } },
    ],
    ['a key no output may mirror: fails alone', facts({ obj: listed('a/../b.mp3') }), { kind: 'fail', isNew: true, problem: { code: 'storage_invalid_key' } }],
  ] as const)('%s', (_name, f, step) => {
    expect(decideListed(f)).toMatchObject(step);
  });

  it('a folder refuses names over 255 bytes with the output suffix; a bucket takes them', () => {
    const long = `${'x'.repeat(250)}.mp3`;
    expect(keyProblem(long, 'file:///out/')).toMatchObject({ code: 'key_too_long' });
    expect(keyProblem(long, 's3://b/out/')).toBeUndefined();
  });

  it('--max-files counts the objects read: those skipped unread are added to the cap', () => {
    expect(registrationCap(undefined, 3)).toBe(0);
    expect(registrationCap(10, 3)).toBe(13);
  });
});

describe('decideFiring', () => {
  it.each([
    [{ scheduleFound: false }, { kind: 'none' }],
    [{ scheduleFound: true, made: { outcome: 'created' } }, { kind: 'run' }],
    [{ scheduleFound: true, made: { outcome: 'exists' } }, { kind: 'run' }],
    [
      { scheduleFound: true, made: { outcome: 'busy', lastRunId: 'r0' } },
      { kind: 'skip', running: 'r0' },
    ],
  ] as const)('%j -> %j', (f, out) => {
    expect(decideFiring(f)).toEqual(out);
  });
});

describe('resultVerdict and planPage', () => {
  const spec = fakeSpec();
  const obj = listed('in/a.mp3');
  const verdictOf = (dst: MemoryStorage) => resultVerdict(dst.text(outputKey(obj.key, 'json')), obj, spec.fingerprint, FAKE_RESULT_SECRET);

  it('no result, a malformed one, another ETag or fingerprint: redone; unsigned or forged: redone and reported; signed: its outputs to verify', () => {
    const dst = new MemoryStorage();
    expect(verdictOf(dst)).toBe(false);
    dst.put(outputKey(obj.key, 'json'), '{not json');
    expect(verdictOf(dst)).toBe(false);
    putResult(dst, spec, obj, { etag: 'other' });
    expect(verdictOf(dst)).toBe(false);
    putResult(dst, spec, obj, { fingerprint: 'other' });
    expect(verdictOf(dst)).toBe(false);
    putResult(dst, spec, obj, { secret: null });
    expect(verdictOf(dst)).toMatchObject({ untrusted: expect.stringMatching(/^unsigned: /) });
    putResult(dst, spec, obj, { secret: 'another-deployment-secret-xyz' });
    expect(verdictOf(dst)).toMatchObject({ untrusted: expect.stringMatching(/^forged: /) });
    putResult(dst, spec, obj);
    expect(verdictOf(dst)).toEqual({ verify: [{ name: 'a.mp3.txt', key: outputKey(obj.key, 'txt'), digest: expect.any(String) }] });
  });

  it('a page: reused ends skipped, a failed check fails its file, the rest (untrusted included) become prepare jobs', () => {
    const item = (key: string, reuse: Parameters<typeof planPage>[1][number]['reuse']) => ({ obj: listed(key), fileId: fileIdOf(key), reuse });
    const plan = planPage('r1', [
      item('a.mp3', true),
      item('b.mp3', false),
      item('c.mp3', { code: 'storage_denied', message: 'checking: no' }),
      item('d.mp3', { untrusted: 'unsigned: x' }),
    ]);
    expect(plan.skip.map((s) => s.obj.key)).toEqual(['a.mp3']);
    expect(plan.fail).toEqual([{ fileId: fileIdOf('c.mp3'), code: 'storage_denied', message: 'checking: no' }]);
    expect(plan.untrusted).toEqual([{ fileId: fileIdOf('d.mp3'), key: 'd.mp3', why: 'unsigned: x' }]);
    expect(plan.prepare).toEqual(
      ['b.mp3', 'd.mp3'].map((key) => ({
        name: 'prepare',
        data: { runId: 'r1', fileId: fileIdOf(key), key, etag: `etag-${key}`, size: 100 },
        opts: { jobId: jobIds.prepare('r1', fileIdOf(key)) },
      })),
    );
  });
});

describe('runScan over fakes', () => {
  it('enqueues what is new, skips what a signed result stands for, redoes the untrusted, fails a bad name alone, and ends the listing', async () => {
    const spec = fakeSpec();
    const objs = [
      listed('new.mp3'),
      listed('done.mp3'),
      listed('unsigned.mp3'),
      listed('edited.mp3'),
      listed('a/../bad.mp3'),
      listed('notes.txt', { skip: notMedia }),
    ];
    const f = fakeScan(spec, objs);
    putResult(f.dst, spec, objs[1]);
    putResult(f.dst, spec, objs[2], { secret: null });
    putResult(f.dst, spec, objs[3]);
    f.dst.put(outputKey('edited.mp3', 'txt'), 'edited by hand');
    const job = scanJob({ runId: 'r1' });

    expect(await runScan(job, f.ports)).toEqual({ runId: 'r1', registered: 5, skipped: 2, enqueued: 3 });
    expect(f.prepared.map((d) => d.key)).toEqual(['new.mp3', 'unsigned.mp3', 'edited.mp3']);
    expect(f.files.get(fileIdOf('done.mp3'))).toMatchObject({ status: 'skipped', uri: `${spec.source}done.mp3` });
    expect(f.files.get(fileIdOf('notes.txt'))).toMatchObject({ status: 'skipped', code: 'not_media', message: 'a text file' });
    expect(f.failed).toEqual([{ fileId: fileIdOf('a/../bad.mp3'), code: 'storage_invalid_key', message: expect.any(String) }]);
    expect(f.patched).toEqual([
      { fileId: fileIdOf('unsigned.mp3'), patch: { untrustedResult: expect.stringMatching(/^unsigned: /) } },
      { fileId: fileIdOf('edited.mp3'), patch: { untrustedResult: 'forged: edited.mp3.txt changed since its result was signed' } },
    ]);
    expect(f.scanDone).toBe(true);
    expect(f.reportsEnsured).toBe(1);
    expect(job.progress).toEqual([{ registered: 5, skipped: 2, enqueued: 3 }]);
  });

  it('--force redoes a file whose signed result stands', async () => {
    const spec = fakeSpec({ force: true });
    const f = fakeScan(spec, [listed('done.mp3')]);
    putResult(f.dst, spec, listed('done.mp3'));
    expect(await runScan(scanJob({ runId: 'r1' }), f.ports)).toMatchObject({ skipped: 0, enqueued: 1 });
  });

  it('--max-files counts the objects read, not those skipped unread; the listing stops at the cap', async () => {
    const objs = [listed('a.mp3'), listed('x.txt', { skip: notMedia }), listed('b.mp3'), listed('c.mp3'), listed('d.mp3')];
    const f = fakeScan(fakeSpec({ maxFiles: 2 }), objs);
    expect(await runScan(scanJob({ runId: 'r1' }), f.ports)).toEqual({ runId: 'r1', registered: 2, skipped: 1, enqueued: 2 });
    expect(f.prepared.map((d) => d.key)).toEqual(['a.mp3', 'b.mp3']);
    expect(f.files.has(fileIdOf('c.mp3'))).toBe(false);
  });

  it('a redone scan enqueues again only the files still pending at generation 0, and counts none as registered', async () => {
    const objs = ['pending.mp3', 'failed.mp3', 'replanned.mp3', 'fresh.mp3'].map((k) => listed(k));
    const f = fakeScan(fakeSpec(), objs);
    for (const o of objs.slice(0, 3)) f.files.set(fileIdOf(o.key), { key: o.key, uri: o.key, etag: o.etag, size: o.size, status: 'pending' });
    f.files.set(fileIdOf('failed.mp3'), { ...f.files.get(fileIdOf('failed.mp3'))!, status: 'failed' });
    f.generations.set(fileIdOf('replanned.mp3'), 1);
    expect(await runScan(scanJob({ runId: 'r1' }), f.ports)).toEqual({ runId: 'r1', registered: 1, skipped: 0, enqueued: 2 });
    expect(f.prepared.map((d) => d.key)).toEqual(['pending.mp3', 'fresh.mp3']);
  });

  it('a reuse check refused for good fails that file alone; a retryable one fails the scan attempt', async () => {
    const spec = fakeSpec();
    const f = fakeScan(spec, [listed('a.mp3'), listed('b.mp3')]);
    const getText = f.dst.getText.bind(f.dst);
    f.dst.getText = async (key) => {
      if (key === outputKey('a.mp3', 'json')) throw new OmniError('storage_denied', 'a symlink out of the destination');
      return getText(key);
    };
    expect(await runScan(scanJob({ runId: 'r1' }), f.ports)).toMatchObject({ registered: 2, enqueued: 1 });
    expect(f.failed).toEqual([
      { fileId: fileIdOf('a.mp3'), code: 'storage_denied', message: 'checking for an earlier result: a symlink out of the destination' },
    ]);

    const g = fakeScan(spec, [listed('a.mp3')]);
    g.dst.getText = async () => {
      throw new OmniError('storage_unavailable', 'the bucket blinked');
    };
    await expect(runScan(scanJob({ runId: 'r1' }), g.ports)).rejects.toMatchObject({ code: 'storage_unavailable' });
    expect(g.scanDone).toBe(false);
  });

  it('pages of 200: one addBulk per page', async () => {
    const objs = Array.from({ length: 450 }, (_, i) => listed(`f${i}.mp3`));
    const f = fakeScan(fakeSpec(), objs);
    expect(await runScan(scanJob({ runId: 'r1' }), f.ports)).toMatchObject({ registered: 450, enqueued: 450 });
    expect(f.addCalls).toBe(3);
  });

  it('waits while too many prepare jobs are waiting, and stops waiting when the run is stopped', async () => {
    const f = fakeScan(fakeSpec(), [listed('a.mp3')], { backpressure: { maxWaitingPrepare: 10, pollMs: 1 } });
    f.waiting.push(11, 11, 10);
    await runScan(scanJob({ runId: 'r1' }), f.ports);
    expect(f.waiting).toEqual([]); // looked three times: twice over the bound, then at it
    const g = fakeScan(fakeSpec(), [listed('a.mp3')], { backpressure: { maxWaitingPrepare: 10, pollMs: 1 } });
    g.waiting.push(11, 11, 11, 11);
    g.stop = 'cancelled';
    await runScan(scanJob({ runId: 'r1' }), g.ports);
    expect(g.waiting).toEqual([11, 11, 11]);
    expect(g.scanDone).toBe(true);
  });

  it('a scheduled firing creates the run its job id names and becomes its scan; busy or removed, nothing runs', async () => {
    const nightly = { name: 'nightly', cron: '0 3 * * *', request: { source: 'mem://in/', destination: 'mem://out/', task: 'transcribe' } };
    const f = fakeScan(fakeSpec(), [listed('a.mp3')], { schedules: [nightly] as never });
    const job = scanJob({ schedule: 'nightly' });
    const runId = scheduledRunId(job.id!, job.timestamp);
    expect(await runScan(job, f.ports)).toMatchObject({ runId, registered: 1, enqueued: 1 });
    expect(f.runsCreated).toEqual([{ schedule: 'nightly', runId }]);
    expect(job.data).toEqual({ schedule: 'nightly', runId });

    const busy = fakeScan(fakeSpec(), [listed('a.mp3')], { schedules: [nightly] as never, busy: 'r0' });
    expect(await runScan(scanJob({ schedule: 'nightly' }), busy.ports)).toEqual({ runId: '', registered: 0, skipped: 0, enqueued: 0, firingSkipped: 'r0' });
    expect(busy.files.size).toBe(0);

    const removed = fakeScan(fakeSpec(), [listed('a.mp3')]);
    expect(await runScan(scanJob({ schedule: 'nightly' }), removed.ports)).toEqual({ runId: '', registered: 0, skipped: 0, enqueued: 0 });
    expect(removed.scanDone).toBe(false);
  });
});
