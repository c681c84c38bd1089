import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests spawn ffmpeg, Redis clients and servers: two cores, so keep parallelism modest.
    maxWorkers: 2,
    pool: 'forks',
    // s3rver's paginated ListObjectsV2 uses DES for continuation tokens (see environment.md).
    execArgv: ['--openssl-legacy-provider'],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
