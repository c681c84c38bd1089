/**
 * Injected faults: which one (if any) a request gets, from the option rates drawn on a seeded PRNG (so a
 * benchmark run is reproducible) or forced by the request header `x-emulator-fault: <kind>`.
 *
 * | kind                   | what the client sees                                                              |
 * |------------------------|-----------------------------------------------------------------------------------|
 * | server_error           | 500 InternalError                                                                 |
 * | unavailable            | 503 ModelUnavailable                                                              |
 * | rate_limit             | 429 Throttling.RateQuota (limit_requests), no Retry-After                         |
 * | rate_limit_retry_after | 429 Throttling.RateQuota with `Retry-After: <retryAfterS or 2>`                   |
 * | quota                  | 429 Throttling.AllocationQuota (insufficient_quota)                               |
 * | auth                   | 401 InvalidApiKey (invalid_api_key)                                               |
 * | arrears                | 400 Arrearage                                                                     |
 * | bad_request            | 400 InvalidParameter                                                              |
 * | too_large              | 413 BadRequest.TooLarge                                                           |
 * | model_not_found        | 404 ModelNotFound (model_not_found)                                               |
 * | inspect_input          | 400 DataInspectionFailed before streaming                                         |
 * | cut                    | 200, some deltas, then the response ends without usage / [DONE] / completed       |
 * | stall                  | 200, a few deltas, then silence until the client gives up or the server closes    |
 * | inspect_output         | 200, a few deltas, then an in-stream DataInspectionFailed error frame             |
 * | stream_rate_limit      | 200, a few deltas, then an in-stream Throttling.AllocationQuota error (429)       |
 *
 * Rates: fail5xx -> server_error or unavailable; fail429 -> rate_limit (rate_limit_retry_after when
 * retryAfterS is set); inspectFail -> inspect_input or inspect_output; cut; stall. A faulted request is
 * never billed. The Batch API's faults (expire, failed lines, validation) are batch/options.ts's.
 */

import { seededRandom } from '../util/random.ts';
import { apiErrors } from './errors.ts';
import type { ApiError } from './types.ts';

export { seededRandom };

export const FAULT_KINDS = [
  'server_error',
  'unavailable',
  'rate_limit',
  'rate_limit_retry_after',
  'quota',
  'auth',
  'arrears',
  'bad_request',
  'too_large',
  'model_not_found',
  'inspect_input',
  'cut',
  'stall',
  'inspect_output',
  'stream_rate_limit',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export type StreamFault = 'cut' | 'stall' | 'inspect_output' | 'stream_rate_limit';
const STREAM_FAULTS: readonly FaultKind[] = ['cut', 'stall', 'inspect_output', 'stream_rate_limit'];

export function isFaultKind(s: string): s is FaultKind {
  return (FAULT_KINDS as readonly string[]).includes(s);
}
export function isStreamFault(k: FaultKind): k is StreamFault {
  return STREAM_FAULTS.includes(k);
}

export interface FaultRates {
  fail5xx?: number;
  fail429?: number;
  cut?: number;
  stall?: number;
  inspectFail?: number;
  /** when set, 429s carry Retry-After: N */
  retryAfterS?: number;
}

/**
 * The fault for one request. Draws a fixed number of values per request whatever the outcome, so the
 * sequence of faults depends only on the seed and the order of requests.
 */
export function drawFault(rates: FaultRates, rand: () => number): FaultKind | undefined {
  const [r5, r429, rInspect, rCut, rStall, pick] = [rand(), rand(), rand(), rand(), rand(), rand()];
  if (r5 < (rates.fail5xx ?? 0)) return pick < 0.5 ? 'server_error' : 'unavailable';
  if (r429 < (rates.fail429 ?? 0)) return rates.retryAfterS !== undefined ? 'rate_limit_retry_after' : 'rate_limit';
  if (rInspect < (rates.inspectFail ?? 0)) return pick < 0.5 ? 'inspect_input' : 'inspect_output';
  if (rCut < (rates.cut ?? 0)) return 'cut';
  if (rStall < (rates.stall ?? 0)) return 'stall';
  return undefined;
}

/** The error response of a fault that refuses before streaming; undefined for the in-stream kinds. */
export function faultError(kind: FaultKind, model: string, retryAfterS: number | undefined): ApiError | undefined {
  switch (kind) {
    case 'server_error':
      return apiErrors.internal();
    case 'unavailable':
      return apiErrors.unavailable();
    case 'rate_limit':
      return apiErrors.rateQuota();
    case 'rate_limit_retry_after':
      return apiErrors.rateQuota(retryAfterS ?? 2);
    case 'quota':
      return apiErrors.allocationQuota();
    case 'auth':
      return apiErrors.invalidKey();
    case 'arrears':
      return apiErrors.arrears();
    case 'bad_request':
      return apiErrors.invalidParameter('<400> InternalError.Algo.InvalidParameter: injected bad request');
    case 'too_large':
      return apiErrors.tooLarge();
    case 'model_not_found':
      return apiErrors.modelNotFound(model);
    case 'inspect_input':
      return apiErrors.inspectInput();
    default:
      return undefined;
  }
}
