# checkpoint-exporter: one image, run as a DaemonSet (charts/checkpoint-exporter, manifests/) on every node.
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#     -t registry.example.com/platform/checkpoint-exporter:0.1.0 --push .

# Build stage: full dev dependencies, compiles src/ to dist/. The output is plain JavaScript, so it runs
# on the build machine's own platform, also when building for another one.
FROM --platform=$BUILDPLATFORM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies and dist/ only; no compiler, no tests, no sources.
# Node.js 24 is an LTS line supported until April 2028.
FROM node:24-bookworm-slim AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="checkpoint-exporter" \
      org.opencontainers.image.description="Per-node Prometheus exporter and retention enforcer for Kubernetes container checkpoint archives" \
      org.opencontainers.image.source="https://github.com/checkpoint-exporter/checkpoint-exporter" \
      org.opencontainers.image.url="https://github.com/checkpoint-exporter/checkpoint-exporter" \
      org.opencontainers.image.documentation="https://github.com/checkpoint-exporter/checkpoint-exporter/blob/main/docs/install.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/node:24-bookworm-slim"
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist ./dist
# The CLI on PATH, as the runbooks run it: kubectl exec … -- checkpoint-exporter ls
RUN chmod 0755 /app/dist/cli/main.js && ln -s /app/dist/cli/main.js /usr/local/bin/checkpoint-exporter
# No USER: the exporter must run as uid 0 to own the kubelet's root-owned checkpoint directory; the
# DaemonSet drops every capability, forbids escalation and makes the root filesystem read-only.
EXPOSE 9873
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["serve"]
