# raftkv node image. The container runs `raftkv start`; configure it with the environment
# (NODE_ID, CLUSTER, DATA_DIR, LISTEN, RAFTKV_*) or append start flags to `docker run`.
# See docs/docker.md.

# --- build: dev dependencies, compile TypeScript --------------------------------------------
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
# Only src/ is in the build context (see .dockerignore), so this compiles the program alone.
RUN npm run build

# --- runtime: production dependencies and the compiled program ------------------------------
FROM node:20-slim
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src

# The data dir is a volume owned by the unprivileged `node` user of the base image.
RUN mkdir -p /data && chown node:node /data
USER node
ENV DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 7001

ENTRYPOINT ["node", "dist/src/cli/main.js", "start"]
