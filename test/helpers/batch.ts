/** Settings for --via batch runs against the emulator: seconds, not hours (its Batch timing and our packer's and poller's waits). */
export const BATCH_ENV = {
  OMNI_REGION: 'cn',
  OMNIBATCH_BATCH_QUIET_MS: '300',
  OMNIBATCH_BATCH_MAX_WAIT_MS: '2000',
  OMNIBATCH_BATCH_POLL_MS: '200',
  OMNIBATCH_BATCH_POLL_MAX_MS: '500',
};
export const FAST_BATCH = { batchValidatingMs: 50, batchInProgressMs: 200, batchFinalizingMs: 50, batchCancellingMs: 50 };
