/**
 * --rpm as an even spacing of requests, not "rpm per fixed minute": BullMQ's limiter counts in fixed windows,
 * the provider in a sliding 60 s one, so a full window's burst right after the previous window's burst put up
 * to 2x rpm into one provider minute (bench rate-limit: 10% of requests were 429s at each window edge). One
 * request per 60/rpm s, 2% wider to absorb the jitter between a job's start and its request reaching the API,
 * never exceeds the quota in any 60 s, at 98% of it.
 */
export function rpmSpacingMs(rpm: number): number {
  return Math.ceil((60_000 / rpm) * 1.02);
}
