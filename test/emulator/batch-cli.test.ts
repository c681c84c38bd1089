// `omnibatch emulator` with the Batch flags, as a real process: region, timing, limits and line faults applied.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { EMULATOR_ENTRY, runCli, startCli } from '../helpers/cli.ts';
import { chatLine, jsonl, lines, settle, submit, upload } from './batch-helpers.ts';

describe('omnibatch emulator --region / --batch-*', () => {
  it('serves Batch with the region, timing, limits and faults the flags give', async () => {
    const emu = startCli(
      [
        'emulator',
        '--port',
        '0',
        '--region',
        'intl',
        '--batch-validating-ms',
        '10',
        '--batch-in-progress-ms',
        '10',
        '--batch-finalizing-ms',
        '10',
        '--batch-max-requests',
        '2',
        '--batch-fail-lines',
        '1',
        '--batch-fail-kind',
        'too_large',
      ],
      { entry: EMULATOR_ENTRY },
    );
    try {
      await emu.waitFor('stdout', /\/api\/v1/);
      const url = /emulator listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(emu.output.stdout)![1];
      const client = new OpenAI({ apiKey: 'any', baseURL: `${url}/compatible-mode/v1`, maxRetries: 0 });
      // Singapore: no omni model in Batch.
      const omni = await settle(client, (await submit(client, [chatLine('1', 'a')])).id);
      expect(omni.batch.errors!.data![0].code).toBe('model_not_supported');
      // --batch-max-requests 2.
      const three = await settle(
        client,
        (
          await submit(
            client,
            [1, 2, 3].map((i) => chatLine(String(i), 'a')),
          )
        ).id,
      );
      expect(three.batch.errors!.data!.map((e) => e.code)).toContain('too_many_requests');
      // The test model is served there; --batch-fail-lines 1 --batch-fail-kind too_large refuses its lines with 413.
      const test = { custom_id: 't', method: 'POST', url: '/v1/chat/ds-test', body: { model: 'batch-test-model', messages: [] } };
      const created = await client.batches.create({
        input_file_id: await upload(client, jsonl([test])),
        endpoint: '/v1/chat/ds-test' as '/v1/chat/completions',
        completion_window: '24h',
      });
      const { batch } = await settle(client, created.id);
      expect(batch.status).toBe('completed');
      const [err] = await lines(client, batch.error_file_id);
      expect(err.response.status_code).toBe(413);
      expect(await emu.stop('SIGTERM')).toBe(0);
    } finally {
      await emu.stop('SIGKILL');
    }
  });

  it.each([
    ['--region', 'mars'],
    ['--batch-fail-kind', 'cut'],
    ['--batch-expire', '2'],
  ])('rejects %s %s', async (flag, value) => {
    const r = await runCli(['emulator', flag, value], { entry: EMULATOR_ENTRY });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(flag);
  });
});
