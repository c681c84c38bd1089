/**
 * What one executed input line becomes (docs/protocols.md "Batch (file input)"): a line of the output file
 * `{id, custom_id, response: {status_code: 200, request_id, body}, error: null}`, or a line of the error
 * file with the refusal the real-time API would have sent, or, for a line never run because the batch
 * expired or was cancelled, `{..., response: null, error: {code: batch_expired | batch_cancelled}}`.
 * Pure.
 */
import { randomUUID } from 'node:crypto';
import type { ModelSpec } from '../../models/catalog.ts';
import { apiErrors, errorBody } from '../errors.ts';
import type { ApiError, ParsedRequest } from '../types.ts';
import { TEST_ANSWER, TEST_USAGE } from './contract.ts';

export function outputLine(customId: string, requestId: string, body: Record<string, unknown>): Record<string, unknown> {
  return { id: requestId, custom_id: customId, response: { status_code: 200, request_id: requestId, body }, error: null };
}

/** A refused line: the status and envelope of the real-time refusal, and Alibaba's `error.code`/`error.message`. */
export function errorLine(customId: string, err: ApiError): Record<string, unknown> {
  const requestId = randomUUID();
  return {
    id: requestId,
    custom_id: customId,
    response: { status_code: err.status, request_id: requestId, body: errorBody('chat', err, requestId) },
    error: { code: err.compatCode, message: err.compatMessage ?? err.message },
  };
}

export type NotRunCode = 'batch_expired' | 'batch_cancelled';

const NOT_RUN: Record<NotRunCode, string> = {
  batch_expired: 'This request could not be executed before the completion window expired.',
  batch_cancelled: 'The batch was cancelled before this request was executed.',
};

export function notRunLine(customId: string, code: NotRunCode): Record<string, unknown> {
  return { id: randomUUID(), custom_id: customId, response: null, error: { code, message: NOT_RUN[code] } };
}

/** batch-test-model's fixed answer: no inference, no charge. */
export function testModelBody(model: string): Record<string, unknown> {
  const requestId = randomUUID();
  return {
    created: Math.floor(Date.now() / 1000),
    usage: { ...TEST_USAGE },
    model,
    id: `chatcmpl-${requestId}`,
    choices: [{ finish_reason: 'stop', index: 0, message: { role: 'assistant', content: TEST_ANSWER } }],
    object: 'chat.completion',
  };
}

/**
 * What Batch refuses on top of the real-time rules. The result is a whole `chat.completion`, never a stream,
 * so `stream: true` is refused [U: the page shows no stream field]; the omni models answer text only in
 * Batch (the page: "do not support audio output"), so `modalities` with audio is refused.
 */
export function batchLineRefusal(req: ParsedRequest, spec: ModelSpec): ApiError | undefined {
  if (req.stream) return apiErrors.invalidParameter('stream is not supported in Batch: every line is answered whole (remove stream and stream_options).');
  if (req.audioOut) return apiErrors.algoInvalid(`The model ${spec.id} does not support audio output in Batch: set modalities to ["text"].`);
  return undefined;
}
