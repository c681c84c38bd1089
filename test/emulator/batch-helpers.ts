// Helpers of the Batch (file input) tests: JSONL input files, the official openai client, polling to an end.
import OpenAI, { toFile } from 'openai';
import { expect } from 'vitest';
import type { Emulator, EmulatorOptions } from '../../src/emulator/server.ts';
import { startEmulator } from '../../src/emulator/server.ts';

export const FAST: EmulatorOptions = { batchValidatingMs: 40, batchInProgressMs: 200, batchFinalizingMs: 40, batchCancellingMs: 40 };

export async function batchEmulator(opts: EmulatorOptions = {}): Promise<{ emu: Emulator; client: OpenAI }> {
  const emu = await startEmulator({ apiKey: 'sk-batch', ...FAST, ...opts });
  return { emu, client: new OpenAI({ apiKey: 'sk-batch', baseURL: `${emu.url}/compatible-mode/v1`, maxRetries: 0 }) };
}

export interface Line {
  custom_id: string;
  method?: string;
  url?: string;
  body: Record<string, unknown>;
}

/** A chat line as the page's examples write them: POST /v1/chat/completions, no stream. */
export function chatLine(customId: string, content: unknown, model = 'qwen-omni-turbo', extra: Record<string, unknown> = {}): Line {
  return { custom_id: customId, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content }], ...extra } };
}

export const jsonl = (lines: readonly unknown[]): string => `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`;

export async function upload(client: OpenAI, text: string, name = 'input.jsonl'): Promise<string> {
  const f = await client.files.create({ file: await toFile(Buffer.from(text), name), purpose: 'batch' });
  return f.id;
}

/** Upload, create, and return the batch as created. */
export async function submit(
  client: OpenAI,
  lines: readonly unknown[],
  opts: { endpoint?: '/v1/chat/completions'; metadata?: Record<string, string>; fault?: string } = {},
): Promise<OpenAI.Batch> {
  const input = await upload(client, jsonl(lines));
  return client.batches.create(
    {
      input_file_id: input,
      endpoint: (opts.endpoint ?? '/v1/chat/completions') as '/v1/chat/completions',
      completion_window: '24h',
      metadata: opts.metadata ?? null,
    },
    opts.fault ? { headers: { 'x-emulator-batch-fault': opts.fault } } : undefined,
  );
}

const TERMINAL = ['completed', 'failed', 'expired', 'cancelled'];

/** Polls until the batch ends; returns it and every status seen on the way, in order. */
export async function settle(client: OpenAI, id: string, timeoutMs = 20_000): Promise<{ batch: OpenAI.Batch; seen: string[] }> {
  const seen: string[] = [];
  let batch!: OpenAI.Batch;
  await expect
    .poll(
      async () => {
        batch = await client.batches.retrieve(id);
        if (seen.at(-1) !== batch.status) seen.push(batch.status);
        return TERMINAL.includes(batch.status);
      },
      { timeout: timeoutMs, interval: 10 },
    )
    .toBe(true);
  return { batch, seen };
}

/** A file's JSONL lines, parsed (an absent file: none). */
export async function lines(client: OpenAI, fileId: string | null | undefined): Promise<any[]> {
  if (!fileId) return [];
  const text = await (await client.files.content(fileId)).text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}
