# The roster image: the CLI, `roster serve` and `roster operator` (deploy/ runs the operator).
# Build: docker build -t ghcr.io/roster-dev/roster:0.1.0 .
# Not built in this repository's CI (no container engine there); see docs/operator.md.
#
# Node 24, the active LTS line. The image holds no embedded PostgreSQL (the platform binary
# packages are optional dependencies, left out: the image always gets DATABASE_URL) and no Pulumi
# SDK or gRPC runtime (the provider is packaged on its own, see docs/pulumi.md).

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY scripts scripts
COPY provider provider
COPY bench bench
# After the build, the provider's dependencies and the optional PostgreSQL binaries are dropped
# (87 MB of node_modules instead of 267 MB; the CLI, serve and the operator import neither).
RUN npm run build \
 && npm pkg delete 'dependencies.@pulumi/pulumi' 'dependencies.@grpc/grpc-js' \
      dependencies.google-protobuf optionalDependencies \
 && npm prune --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
 && rm -rf dist/provider dist/src/provider dist/bench dist/scripts

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/package.json ./
COPY bin bin
COPY migrations migrations
COPY crds crds
# Unprivileged, matching deploy/base/deployment.yaml's runAsUser; the root filesystem can be read-only.
USER 1000:1000
ENTRYPOINT ["node", "/app/bin/roster.js"]
CMD ["operator"]
