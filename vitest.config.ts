import { defineConfig } from 'vitest/config';

/**
 * The unit tests: pure functions and handlers over fakes (test/fakes/): no Redis, no child process, no server,
 * no ffmpeg. `npm run test:unit` runs them alone in seconds; test/repo/test-suite.test.ts keeps this list honest.
 */
export const UNIT_TESTS = [
  'test/bench/runner.test.ts',
  'test/bench/tone.test.ts',
  'test/bench/tpm-figures.test.ts',
  'test/cost/deadline-fallback.test.ts',
  'test/cost/deadline.test.ts',
  'test/cost/estimate.test.ts',
  'test/cost/packing.test.ts',
  'test/cost/via-choice.test.ts',
  'test/dashboard/range.test.ts',
  'test/dashboard/view.test.ts',
  'test/emulator/batch-contract.test.ts',
  'test/emulator/logic.test.ts',
  'test/media/child-argv.test.ts',
  'test/media/estimate-limits.test.ts',
  'test/media/file-limits.test.ts',
  'test/media/media-args.test.ts',
  'test/media/plan.test.ts',
  'test/models/batch-support.test.ts',
  'test/models/decode.test.ts',
  'test/models/errors.test.ts',
  'test/models/request.test.ts',
  'test/outputs/*.test.ts',
  'test/pipeline/units.test.ts',
  'test/repo/*.test.ts',
  'test/runs/batch-progress.test.ts',
  'test/runs/eta.test.ts',
  'test/stitch/*.test.ts',
  'test/storage/keys.test.ts',
  'test/storage/local.test.ts',
  'test/util/errors.test.ts',
  'test/util/logger-err.test.ts',
  'test/workers/*.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests spawn ffmpeg, Redis clients and servers: two cores, so keep parallelism modest.
    maxWorkers: 2,
    pool: 'forks',
    // s3rver's paginated ListObjectsV2 uses DES for continuation tokens (see environment.md).
    execArgv: ['--openssl-legacy-provider'],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    projects: [
      // Pure tests share one module graph per worker: importing it again for each file was two thirds of the
      // project's time (115 s -> 45 s for 43 files on the loaded 2-core machine); nothing in them holds state.
      { extends: true, test: { name: 'unit', include: UNIT_TESTS, isolate: false } },
      // The integration files share one module graph per worker too: importing the AWS SDK, BullMQ and the sources
      // again for each file was most of their CPU (12 files: 60 s -> 26 s wall, 26 -> 16 CPU-s). What a file
      // installs for the whole process is put back before the next (test/setup/process-defaults.ts); the CLI
      // bundle the tests start as a process is built once (test/global-setup.ts).
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: UNIT_TESTS,
          isolate: false,
          setupFiles: ['test/setup/process-defaults.ts'],
          globalSetup: ['test/global-setup.ts'],
        },
      },
    ],
  },
});
