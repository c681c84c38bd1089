/**
 * The refusals the real service sends (docs/protocols.md §5), as protocol-neutral ApiErrors, and their
 * envelopes: compat/responses `{"error":{message,type,param,code},"request_id"}`, native `{code,message,request_id}`.
 */
import type { ApiError, WireProtocol } from './types.ts';

const DOC = 'https://help.aliyun.com/zh/model-studio/error-code';

export const apiErrors = {
  invalidKey: (): ApiError => ({
    status: 401,
    code: 'InvalidApiKey',
    compatCode: 'invalid_api_key',
    compatType: 'invalid_request_error',
    message: 'Invalid API-key provided.',
    compatMessage: `Incorrect API key provided. For details, see: ${DOC}#apikey-error`,
  }),
  invalidParameter: (message: string): ApiError => ({
    status: 400,
    code: 'InvalidParameter',
    compatCode: 'invalid_parameter_error',
    compatType: 'invalid_request_error',
    message,
  }),
  /**
   * A parameter the model's algorithm layer refuses (voice, system message, thinking with audio, format,
   * input overflow): DashScope answers 400 with code InternalError.Algo.InvalidParameter (native), the compat
   * API wraps it in invalid_parameter_error with the code in the message, DMXAPI relays the upstream code.
   */
  algoInvalid: (message: string): ApiError => ({
    status: 400,
    code: 'InternalError.Algo.InvalidParameter',
    relayCode: 'InternalError.Algo.InvalidParameter',
    compatCode: 'invalid_parameter_error',
    compatType: 'invalid_request_error',
    message,
    compatMessage: `<400> InternalError.Algo.InvalidParameter: ${message}`,
  }),
  streamOnly: (): ApiError => apiErrors.invalidParameter('This model only support stream mode, please enable the stream parameter to access the model. '),
  // The real envelope of an input overflow.
  inputLength: (max: number): ApiError => apiErrors.algoInvalid(`Range of input length should be [1, ${max}]`),
  modelNotFound: (model: string): ApiError => ({
    status: 404,
    code: 'ModelNotFound',
    compatCode: 'model_not_found',
    compatType: 'invalid_request_error',
    message: 'Model can not be found.',
    compatMessage: `The model \`${model}\` does not exist or you do not have access to it.`,
  }),
  inspectInput: (): ApiError => ({
    status: 400,
    code: 'DataInspectionFailed',
    compatCode: 'data_inspection_failed',
    compatType: 'data_inspection_failed',
    message: 'Input text data may contain inappropriate content.',
  }),
  inspectOutput: (): ApiError => ({
    status: 400,
    code: 'DataInspectionFailed',
    compatCode: 'data_inspection_failed',
    compatType: 'data_inspection_failed',
    message: 'Output data may contain inappropriate content.',
  }),
  arrears: (): ApiError => ({
    status: 400,
    code: 'Arrearage',
    compatCode: 'Arrearage',
    compatType: 'Arrearage',
    message: `Access denied, please make sure your account is in good standing. For details, see: ${DOC}#overdue-payment`,
  }),
  rateQuota: (retryAfterS?: number): ApiError => ({
    status: 429,
    code: 'Throttling.RateQuota',
    compatCode: 'limit_requests',
    compatType: 'limit_requests',
    message: 'Requests rate limit exceeded, please try again later.',
    compatMessage: `You have exceeded your current request limit. For details, see: ${DOC}#rate-limit`,
    retryAfterS,
  }),
  allocationQuota: (retryAfterS?: number): ApiError => ({
    status: 429,
    code: 'Throttling.AllocationQuota',
    compatCode: 'insufficient_quota',
    compatType: 'insufficient_quota',
    message: 'Allocated quota exceeded, please increase your quota limit.',
    compatMessage: `You exceeded your current quota, please check your plan and billing details. For details, see: ${DOC}#token-limit`,
    retryAfterS,
  }),
  burst: (retryAfterS?: number): ApiError => ({
    status: 429,
    code: 'Throttling',
    compatCode: 'limit_burst_rate',
    compatType: 'limit_burst_rate',
    message: 'Request rate increased too quickly',
    retryAfterS,
  }),
  tooLarge: (): ApiError => ({
    status: 413,
    code: 'BadRequest.TooLarge',
    compatCode: 'BadRequest.TooLarge',
    compatType: 'invalid_request_error',
    message: 'Payload Too Large.',
  }),
  downloadFailed: (why: string): ApiError => ({
    status: 400,
    code: 'BadRequest.InputDownloadFailed',
    compatCode: 'invalid_parameter_error',
    compatType: 'invalid_request_error',
    message: `Failed to download the input file: ${why}`,
  }),
  internal: (): ApiError => ({
    status: 500,
    code: 'InternalError',
    compatCode: 'internal_error',
    compatType: 'internal_error',
    message: 'An internal error has occured, please try again later or contact service support.',
  }),
  unavailable: (): ApiError => ({
    status: 503,
    code: 'ModelUnavailable',
    compatCode: 'model_unavailable',
    compatType: 'model_unavailable',
    message: 'Model is unavailable, please try again later.',
  }),
  notFound: (path: string): ApiError => ({
    status: 404,
    code: 'NotFound',
    compatCode: 'not_found',
    compatType: 'invalid_request_error',
    message: `No route for ${path}`,
  }),
} as const;

/** The JSON body of an error response in the protocol's envelope. */
export function errorBody(protocol: WireProtocol, err: ApiError, requestId: string): Record<string, unknown> {
  if (protocol === 'native') return { code: err.code, message: err.message, request_id: requestId };
  // DMXAPI passes some upstream codes through unchanged (relayCode), with the upstream's own message.
  const relayed = protocol === 'responses' && err.relayCode !== undefined;
  return {
    error: {
      message: relayed ? err.message : (err.compatMessage ?? err.message),
      type: err.compatType,
      param: null,
      code: relayed ? err.relayCode : err.compatCode,
    },
    request_id: requestId,
  };
}

export function errorHeaders(err: ApiError): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json' };
  if (err.status === 429 && err.retryAfterS !== undefined) h['retry-after'] = String(err.retryAfterS);
  return h;
}
