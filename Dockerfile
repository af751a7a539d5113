# checkpoint-exporter: one image, run as a DaemonSet (manifests/) on every node.
#   docker build -t ghcr.io/checkpoint-exporter/checkpoint-exporter:0.1.0 .

# Build stage: full dev dependencies, compiles src/ to dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies and dist/ only; no compiler, no tests, no sources.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist ./dist
# No USER: the exporter must run as uid 0 to own the kubelet's root-owned checkpoint directory; the
# DaemonSet drops every capability, forbids escalation and makes the root filesystem read-only.
EXPOSE 9873
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["serve"]
