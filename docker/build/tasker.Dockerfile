# The Tasker services, one image per target, all from one build stage:
#   orchestration  tasker-ctl orchestrator: migrates (DEPLOYMENT_MODE), registers the example
#                  templates, sweeps leases and deadlines; REST 8080, gRPC 9190
#   worker-node    tasker-ctl worker on Node with the example handlers (workers/); REST 8085, gRPC 9400
#   worker-bun     the same worker on Bun (the handlers' TypeScript sources)
#   worker-deno    the same worker on Deno
# Build from the repository root (the context must be the root; .dockerignore trims it):
#   docker build -f docker/build/tasker.Dockerfile --target orchestration -t tasker-orchestration .
#   docker build -f docker/build/tasker.Dockerfile --target worker-node -t tasker-worker-node .
# test/docker/docker-files.test.ts runs every target's command outside Docker (this machine has no
# Docker engine): each starts against PostgreSQL with its generated configuration and drains on
# SIGTERM.

# --- build: the native core from source (Rust), the TypeScript, the production configuration ---
FROM node:20-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
# The native core needs a current stable Rust; Debian's is too old for napi-rs.
RUN curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain stable
ENV PATH=/root/.cargo/bin:$PATH
WORKDIR /app
COPY . .
# The same install as a developer's: fetches PGMQ's SQL, builds the addon and the C library
# (release), compiles every TypeScript package.
RUN npm ci --no-audit --no-fund
# One merged file per service: a production process reads TASKER_CONFIG_PATH only.
RUN node sdk/dist/cli/tasker-ctl.js config generate --context orchestration --environment production --output config/orchestration.toml \
 && node sdk/dist/cli/tasker-ctl.js config generate --context worker --environment production --output config/worker.toml \
 && rm -rf native/target

# --- runtime: what the services run, as an unprivileged user ---
FROM node:20-bookworm-slim AS runtime
RUN groupadd --system tasker && useradd --system --gid tasker --home-dir /app --no-create-home tasker
WORKDIR /app
COPY --from=build --chown=tasker:tasker /app /app
USER tasker
ENV TASKER_ENV=production \
    NODE_ENV=production \
    DENO_DIR=/app/.cache/deno \
    BUN_INSTALL_CACHE_DIR=/app/.cache/bun
# DATABASE_URL is given at run time (a secret); never baked in.

FROM runtime AS orchestration
ENV TASKER_CONFIG_PATH=/app/config/orchestration.toml
EXPOSE 8080 9190
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:8080/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
CMD ["node", "sdk/dist/cli/tasker-ctl.js", "orchestrator", "--templates", "workers/templates"]

FROM runtime AS worker-node
ENV TASKER_CONFIG_PATH=/app/config/worker.toml
EXPOSE 8085 9400
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:8085/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
STOPSIGNAL SIGTERM
CMD ["node", "sdk/dist/cli/tasker-ctl.js", "worker", "--handlers", "workers/dist/apps", "--templates", "workers/templates"]

FROM runtime AS worker-bun
ENV TASKER_CONFIG_PATH=/app/config/worker.toml
EXPOSE 8085 9400
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:8085/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
STOPSIGNAL SIGTERM
CMD ["node_modules/.bin/bun", "sdk/dist/cli/tasker-ctl.js", "worker", "--handlers", "workers/src/apps", "--templates", "workers/templates"]

FROM runtime AS worker-deno
ENV TASKER_CONFIG_PATH=/app/config/worker.toml
EXPOSE 8085 9400
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:8085/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
STOPSIGNAL SIGTERM
CMD ["node_modules/.bin/deno", "run", "-A", "sdk/dist/cli/tasker-ctl.js", "worker", "--handlers", "workers/src/apps", "--templates", "workers/templates"]
