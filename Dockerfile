# The roster image: the CLI, `roster serve` and `roster operator` (deploy/ runs the operator).
# Build: docker build -t ghcr.io/roster-dev/roster:0.1.0 .
# Not built in this repository's CI (no container engine there); see docs/operator.md.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the build runs below; the embedded PostgreSQL is not needed in the image
# (the operator always gets DATABASE_URL).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY scripts scripts
COPY provider provider
COPY operator operator
COPY bench bench
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
COPY bin bin
COPY migrations migrations
COPY crds crds
# Unprivileged, matching deploy/deployment.yaml's runAsUser; the root filesystem can be read-only.
USER 1000:1000
ENTRYPOINT ["node", "/app/bin/roster.js"]
CMD ["operator"]
