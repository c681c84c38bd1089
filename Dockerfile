# syntax=docker/dockerfile:1
# omnibatch: one image for every role (worker, run, emulator, dashboard, ...): `docker run omnibatch:local <command>`.
# TypeScript runs through tsx (a runtime dependency), so there is no build step and no dev dependencies here.

# --- deps: production node_modules only, from the lockfile
FROM node:20-bookworm-slim AS deps
WORKDIR /app
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

# --- runtime: node + ffmpeg, the sources, a non-root user
FROM node:20-bookworm-slim AS runtime
# ffmpeg/ffprobe cut and probe media; tini is added by compose's `init: true`, so the image stays plain
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    OMNIBATCH_TMP=/tmp/omnibatch
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY src ./src
# the `node` user (uid 1000) comes with the base image; the app files stay root-owned and read-only to it
RUN mkdir -p /tmp/omnibatch && chown node:node /tmp/omnibatch
USER node
# The metrics port of `omnibatch worker --metrics-port 9464` and the emulator's usual port.
EXPOSE 9464 8080
# Default check (`omnibatch health`): Redis answers PING at REDIS_URL (every role needs it). Compose
# overrides it per service with an HTTP target (a worker's /healthz, the emulator's /healthz).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "bin/omnibatch.js", "health"]
ENTRYPOINT ["node", "bin/omnibatch.js"]
CMD ["--help"]
