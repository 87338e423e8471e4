# rsproxy container image: build with tsc, run on node:24-slim as a non-root user.
#   docker build -t rsproxy --build-arg RSPROXY_COMMIT=$(git rev-parse --short=12 HEAD) .
#   docker run -v $PWD/deploy:/etc/rsproxy:ro -p 5439:5439 -p 9187:9187 rsproxy
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY proxy ./proxy
COPY auth ./auth
COPY emulator ./emulator
COPY test ./test
COPY bench ./bench
COPY testkit ./testkit
COPY deploy/exe ./deploy/exe
RUN npx tsc -p tsconfig.json \
 && rm -rf dist/test dist/bench dist/testkit dist/deploy \
 && find dist -name '*.test.js' -delete -o -name '*.test.js.map' -delete

FROM node:24-slim AS runtime
ENV NODE_ENV=production \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
ARG RSPROXY_COMMIT=unknown
ENV RSPROXY_COMMIT=${RSPROXY_COMMIT}
# The `node` user of the base image (uid/gid 1000); numeric so Kubernetes can verify runAsNonRoot.
USER 1000:1000
# 5439: PostgreSQL clients (listen); 9187: /metrics /livez /readyz /startupz (admin.listen).
EXPOSE 5439 9187
# Assumes admin.listen on port 9187 (any host); the image has no curl, so node does the GET.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "require('http').get('http://127.0.0.1:9187/livez', (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/proxy/cli/index.js"]
CMD ["serve", "--config", "/etc/rsproxy/rsproxy.yaml"]
