/**
 * The error classification table, case by case (pure): docs/protocols.md §5's envelopes and messages, HTTP
 * statuses, Retry-After forms, in-stream frames and transport failures.
 */
import { describe, expect, it } from 'vitest';
import { classifyError, classifyTransportError, type ErrorInput, messageSaysTooLarge, retryAfterMs } from '../../src/models/errors.ts';

const DOC = 'https://help.aliyun.com/zh/model-studio/error-code';
const compat = (code: string, type: string, message: string) => ({ error: { message, type, param: null, code }, request_id: 'r-1' });
const native = (code: string, message: string) => ({ code, message, request_id: 'r-2' });

interface Row {
  what: string;
  input: ErrorInput;
  code: string;
  retryable: boolean;
  providerCode?: string;
  retryAfterMs?: number;
}

const NOW = Date.parse('2025-09-15T12:00:00Z');

const TABLE: Row[] = [
  // auth
  {
    what: 'compat bad key',
    input: { status: 401, body: compat('invalid_api_key', 'invalid_request_error', `Incorrect API key provided. For details, see: ${DOC}#apikey-error`) },
    code: 'auth',
    retryable: false,
    providerCode: 'invalid_api_key',
  },
  {
    what: 'native bad key',
    input: { status: 401, body: native('InvalidApiKey', 'Invalid API-key provided.') },
    code: 'auth',
    retryable: false,
    providerCode: 'InvalidApiKey',
  },
  { what: 'bare 403', input: { status: 403, body: 'Forbidden' }, code: 'auth', retryable: false },
  {
    what: 'free tier exhausted',
    input: { status: 403, body: native('AllocationQuota.FreeTierOnly', 'free tier used up') },
    code: 'auth',
    retryable: false,
    providerCode: 'AllocationQuota.FreeTierOnly',
  },
  // billing
  {
    what: 'arrears (400)',
    input: {
      status: 400,
      body: compat('Arrearage', 'Arrearage', `Access denied, please make sure your account is in good standing. For details, see: ${DOC}#overdue-payment`),
    },
    code: 'arrears',
    retryable: false,
    providerCode: 'Arrearage',
  },
  { what: 'native arrears', input: { status: 400, body: native('Arrearage', 'Access denied') }, code: 'arrears', retryable: false },
  // rate limits
  {
    what: 'RPM compat, no Retry-After',
    input: { status: 429, body: compat('limit_requests', 'limit_requests', 'You have exceeded your current request limit.') },
    code: 'rate_limited',
    retryable: true,
    providerCode: 'limit_requests',
    retryAfterMs: undefined,
  },
  {
    what: 'RPM native + Retry-After seconds',
    input: { status: 429, headers: { 'retry-after': '7' }, body: native('Throttling.RateQuota', 'Requests rate limit exceeded, please try again later.') },
    code: 'rate_limited',
    retryable: true,
    providerCode: 'Throttling.RateQuota',
    retryAfterMs: 7000,
  },
  {
    what: 'RPM + Retry-After HTTP date',
    input: { status: 429, now: NOW, headers: { 'Retry-After': new Date(NOW + 30_000).toUTCString() }, body: native('Throttling.RateQuota', 'x') },
    code: 'rate_limited',
    retryable: true,
    retryAfterMs: 30_000,
  },
  {
    what: 'burst',
    input: { status: 429, body: native('Throttling', 'Request rate increased too quickly') },
    code: 'rate_limited',
    retryable: true,
    providerCode: 'Throttling',
  },
  {
    what: 'burst compat',
    input: { status: 429, body: compat('limit_burst_rate', 'limit_burst_rate', 'Request rate increased too quickly') },
    code: 'rate_limited',
    retryable: true,
  },
  { what: '429 with no body', input: { status: 429, body: '' }, code: 'rate_limited', retryable: true },
  {
    what: 'TPM native',
    input: { status: 429, body: native('Throttling.AllocationQuota', 'Allocated quota exceeded, please increase your quota limit.') },
    code: 'quota_exceeded',
    retryable: true,
    providerCode: 'Throttling.AllocationQuota',
  },
  {
    what: 'TPM compat',
    input: {
      status: 429,
      headers: { 'retry-after': '2' },
      body: compat(
        'insufficient_quota',
        'insufficient_quota',
        `You exceeded your current quota, please check your plan and billing details. For details, see: ${DOC}#token-limit`,
      ),
    },
    code: 'quota_exceeded',
    retryable: true,
    providerCode: 'insufficient_quota',
    retryAfterMs: 2000,
  },
  // server
  {
    what: '500 InternalError',
    input: { status: 500, body: native('InternalError', 'An internal error has occured, please try again later or contact service support.') },
    code: 'server_error',
    retryable: true,
  },
  { what: '503 ModelUnavailable', input: { status: 503, body: native('ModelUnavailable', 'Model is unavailable') }, code: 'server_error', retryable: true },
  { what: '502 from a proxy (HTML)', input: { status: 502, body: '<html>Bad Gateway</html>' }, code: 'server_error', retryable: true },
  { what: '500 InternalError.Timeout', input: { status: 500, body: native('InternalError.Timeout', 'timeout') }, code: 'server_error', retryable: true },
  // bad requests
  {
    what: 'InvalidParameter',
    input: { status: 400, body: native('InvalidParameter', 'The audio format is not supported') },
    code: 'service_invalid_request',
    retryable: false,
    providerCode: 'InvalidParameter',
  },
  {
    what: 'compat invalid_parameter_error',
    input: {
      status: 400,
      body: compat(
        'invalid_parameter_error',
        'invalid_request_error',
        'This model only support stream mode, please enable the stream parameter to access the model. ',
      ),
    },
    code: 'service_invalid_request',
    retryable: false,
  },
  {
    what: '400 token ceiling',
    input: {
      status: 400,
      body: compat('invalid_parameter_error', 'invalid_request_error', '<400> InternalError.Algo.InvalidParameter: Range of input length should be [1, 49152]'),
    },
    code: 'input_too_large',
    retryable: false,
  },
  {
    what: '400 duration',
    input: { status: 400, body: native('InvalidParameter', 'The audio duration exceeds the limit of 1200 seconds') },
    code: 'input_too_large',
    retryable: false,
  },
  {
    what: '400 data-uri size',
    input: { status: 400, body: native('InvalidParameter', 'Exceeded limit on max bytes per data-uri item : 10485760') },
    code: 'input_too_large',
    retryable: false,
  },
  {
    what: '413',
    input: { status: 413, body: native('BadRequest.TooLarge', 'Payload Too Large.') },
    code: 'input_too_large',
    retryable: false,
    providerCode: 'BadRequest.TooLarge',
  },
  { what: '413 without a body', input: { status: 413, body: '' }, code: 'input_too_large', retryable: false },
  // moderation
  {
    what: 'input inspection (400)',
    input: { status: 400, body: compat('data_inspection_failed', 'data_inspection_failed', 'Input text data may contain inappropriate content.') },
    code: 'content_blocked',
    retryable: false,
    providerCode: 'data_inspection_failed',
  },
  {
    what: 'native DataInspectionFailed',
    input: { status: 400, body: native('DataInspectionFailed', 'Input data may contain inappropriate content.') },
    code: 'content_blocked',
    retryable: false,
  },
  // model
  { what: '404 ModelNotFound', input: { status: 404, body: native('ModelNotFound', 'Model can not be found.') }, code: 'model_not_found', retryable: false },
  {
    what: '404 compat',
    input: { status: 404, body: compat('model_not_found', 'invalid_request_error', 'The model `x` does not exist') },
    code: 'model_not_found',
    retryable: false,
  },
  // in-stream frames (no HTTP status)
  {
    what: 'chat frame: output inspection',
    input: {
      inStream: true,
      body: {
        error: { code: 'data_inspection_failed', param: null, message: 'Output data may contain inappropriate content.', type: 'data_inspection_failed' },
        id: 'chatcmpl-1',
      },
    },
    code: 'content_blocked',
    retryable: false,
  },
  {
    what: 'native frame 429',
    input: { inStream: true, status: 429, body: native('Throttling.AllocationQuota', 'Allocated quota exceeded') },
    code: 'quota_exceeded',
    retryable: true,
  },
  {
    what: 'responses.failed',
    input: {
      inStream: true,
      body: { type: 'response.failed', response: { id: 'resp_1', status: 'failed', error: { code: 'server_error', message: 'failed' } } },
    },
    code: 'server_error',
    retryable: true,
  },
  {
    what: 'responses error event',
    input: { inStream: true, body: { type: 'error', code: 'rate_limit_exceeded', message: 'slow down' } },
    code: 'rate_limited',
    retryable: true,
  },
  {
    what: 'unknown in-stream frame',
    input: { inStream: true, body: { error: { code: 'SomethingNew', message: '?' } } },
    code: 'service_unknown',
    retryable: true,
  },
  { what: 'unknown 4xx', input: { status: 418, body: native('Teapot', 'short and stout') }, code: 'service_invalid_request', retryable: false },
];

describe('classifyError', () => {
  it.each(TABLE)('$what -> $code', (row) => {
    const err = classifyError(row.input);
    expect(err.code).toBe(row.code);
    expect(err.retryable).toBe(row.retryable);
    expect(err.status).toBe(row.input.status);
    if (row.providerCode !== undefined) expect(err.providerCode).toBe(row.providerCode);
    if ('retryAfterMs' in row) expect(err.retryAfterMs).toBe(row.retryAfterMs);
  });

  it('keeps the request id and never echoes a key', () => {
    const err = classifyError({ status: 401, body: native('InvalidApiKey', 'Invalid API-key provided.') });
    expect(err.details).toEqual({ requestId: 'r-2' });
    expect(err.message).toBe('HTTP 401 InvalidApiKey: Invalid API-key provided.');
  });
});

describe('retryAfterMs', () => {
  it('reads seconds, fractional seconds, dates in the past, retry-after-ms, and ignores junk', () => {
    expect(retryAfterMs({ 'retry-after': '3' })).toBe(3000);
    expect(retryAfterMs({ 'retry-after': '0.5' })).toBe(500);
    expect(retryAfterMs({ 'retry-after': new Date(NOW - 5000).toUTCString() }, NOW)).toBe(0);
    expect(retryAfterMs({ 'retry-after-ms': '1500', 'retry-after': '9' })).toBe(1500);
    expect(retryAfterMs({ 'retry-after': 'soon' })).toBeUndefined();
    expect(retryAfterMs(new Headers({ 'Retry-After': '4' }))).toBe(4000);
    expect(retryAfterMs(undefined)).toBeUndefined();
  });
});

describe('messageSaysTooLarge', () => {
  it('tells a size/duration/token limit from other invalid parameters', () => {
    expect(messageSaysTooLarge('Range of input length should be [1, 30720]')).toBe(true);
    expect(messageSaysTooLarge('video file too large: 300 MB')).toBe(true);
    expect(messageSaysTooLarge('The input audio is longer than 20 minutes')).toBe(true);
    expect(messageSaysTooLarge('The base64 data exceeds the limit of 4194304 characters.')).toBe(true);
    expect(messageSaysTooLarge('The audio format is not supported')).toBe(false);
    expect(messageSaysTooLarge('voice must be one of Cherry, Ethan')).toBe(false);
    expect(messageSaysTooLarge(undefined)).toBe(false);
  });
});

describe('classifyTransportError', () => {
  it('maps socket errors to connection before the response and to stream_truncated after', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(classifyTransportError(reset, { streamStarted: false })).toMatchObject({ code: 'connection', retryable: true });
    expect(classifyTransportError(reset, { streamStarted: true, status: 200 })).toMatchObject({ code: 'stream_truncated', retryable: true, status: 200 });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(classifyTransportError(refused, { streamStarted: false })).toMatchObject({ code: 'connection', retryable: true });
    const connectTimeout = Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' });
    expect(classifyTransportError(connectTimeout, { streamStarted: false })).toMatchObject({ code: 'timeout', retryable: true });
  });
});
