# syntax=docker/dockerfile:1
#
# Pulse: one image, role chosen at run time (ROLE=api|worker|all).
# Bun runs the TypeScript sources directly; there is no build step.
#
#   docker build -t pulse .
#   docker run --rm -p 3010:3010 -e DATABASE_URL=postgres://... -e JWT_SECRET=... pulse
#
# Without DATABASE_URL the service starts its embedded TimescaleDB under /app/data
# (mount a volume there to keep it); containers normally point DATABASE_URL at a real server.

# Both stages use the same pinned release of the official image (oven/bun tags: X.Y.Z, X.Y.Z-slim).

# ---- deps: production node_modules from the frozen lockfile ---------------------------------
FROM oven/bun:1.4.5 AS deps
WORKDIR /app
COPY package.json bun.lock ./
RUN --mount=type=cache,target=/root/.bun/install/cache \
    bun install --frozen-lockfile --production --ignore-scripts

# ---- runtime: slim Debian image with only bun, deps and sources -----------------------------
FROM oven/bun:1.4.5-slim AS runtime
ENV NODE_ENV=production \
    PORT=3010
WORKDIR /app

# Sources stay owned by root (read-only for the service user); only data/ is writable.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json bun.lock tsconfig.json ./
COPY src ./src
COPY sql ./sql
RUN mkdir -p /app/data && chown bun:bun /app/data

# `bun` (uid/gid 1000) is created by the official image.
USER bun

EXPOSE 3010

# The slim image has no curl/wget: probe liveness with bun itself.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["bun", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3010)+'/health/live').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]

# main.ts drains and closes within SHUTDOWN_TIMEOUT_MS (default 10 s) on SIGTERM:
# give the container runtime a longer stop timeout than that (compose stop_grace_period,
# k8s terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
CMD ["bun", "src/main.ts"]
