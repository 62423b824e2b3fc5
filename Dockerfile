# walship: one image, three roles (sidecar `replicate`, init container `restore`, one-shot `ltx`).
#
#   docker build -t walship .
#   docker build --build-arg NODE_IMAGE=node:20-bookworm-slim -t walship .   # Node 20 (CI)
#
# Runs as uid/gid 10001 with no writes outside its volumes and /tmp, so it works with a read-only
# root filesystem (docker run --read-only --tmpfs /tmp, or readOnlyRootFilesystem in Kubernetes).
# The node process is PID 1 (exec form): it receives SIGTERM directly, and `walship replicate`
# ships everything committed before it exits 0.
ARG NODE_IMAGE=node:22-bookworm-slim

# ---- build: TypeScript and the native modules (better-sqlite3 compiles from source when no
# prebuilt binary can be downloaded, which needs python3, make and g++) ----
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# Then drop dev dependencies, and better-sqlite3's sources and intermediate objects (about 25 MB;
# only build/Release/better_sqlite3.node is loaded), and check that the module still loads.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/.cache \
 && cd node_modules/better-sqlite3 \
 && rm -rf deps src build/deps build/Release/obj build/Release/obj.target build/Release/.deps \
           build/Release/test_extension.node build/Release/*.a \
 && cd /src \
 && node -e "require('better-sqlite3')(':memory:').prepare('select 1').get()"

# ---- runtime: node, dist and production node_modules only ----
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    HOME=/tmp \
    WALSHIP_CONFIG=/etc/walship/walship.yml
RUN groupadd --gid 10001 walship \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin walship \
 && mkdir -p /data /etc/walship \
 && chown 10001:10001 /data \
 && chmod 0775 /data
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY images/walship/healthcheck.mjs ./healthcheck.mjs
# The database volume. Docker copies this directory's owner into a new named volume.
VOLUME ["/data"]
USER 10001:10001
# Meaningful only for `replicate` with `addr:` set in its config: the check finds PID 1's -config,
# reads addr and asks /healthz. Without addr, or for restore/ltx, it reports healthy.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
# The same node flags as the bin's shebang (src/cli/main.ts says why).
ENTRYPOINT ["node", "--max-semi-space-size=2", "--v8-pool-size=1", "--interrupt-budget=1000000", "/app/dist/cli/main.js"]
CMD ["replicate"]
