#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so `npx omnibatch` works right after `npm ci`
// with no build step.
import { register } from 'tsx/esm/api';

register();
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
await import('../src/cli/main.ts');
