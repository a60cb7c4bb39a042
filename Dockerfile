# The command line (`npm run atlas`) in a container, for recording shards on a batch engine (see deploy/).
#
#   docker build -t atlas .
#   docker run --rm -v "$PWD/shards:/shards" -v "$PWD/corpus:/data:ro" atlas \
#     --text /data/corpus.txt --layer h.2.mlp.act --shard 0/4 --out /shards
#   docker run --rm -v "$PWD/shards:/shards" atlas --merge /shards --out /shards/atlas.json
#
# The image holds the sources, the built-in models and the bundled samples as committed; it trains nothing.
# Debian bookworm (glibc): sharp's prebuilt libvips binaries and TF.js's wasm backend run as they are.
FROM node:20-bookworm-slim

WORKDIR /app

# Dependencies first, so that a change to the sources reuses this layer. Every dependency is installed:
# the CLI runs its TypeScript through tsx, a devDependency, so NODE_ENV=production (which omits them) is not set.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY src ./src
COPY models ./models
COPY public ./public

# Shards and merged atlases are written here: a host folder, a PersistentVolumeClaim, an EFS volume or a
# Cloud Storage bucket mounted by the engine. The image runs as the unprivileged `node` user (uid 1000),
# so the mounted volume must be writable by uid 1000 (deploy/README.md says how, engine by engine).
RUN mkdir -p /shards && chown node:node /shards
VOLUME ["/shards"]
USER node

# Arguments given to the container (Kubernetes `args`, Cloud Run `args`, AWS Batch `command`) go to the CLI.
ENTRYPOINT ["npm", "run", "atlas", "--"]
CMD ["--help"]
