# The Magrathea gateway: `magrathea serve` (SSH gateway, HTTP API, a deploy
# worker, accounting). README, "Running the gateway in a container".
#
#   docker build -t magrathea-gateway .        (or: podman build --format docker ...)
#
# BASE is node:20-bookworm-slim in production; any Debian 12 image with Node 20
# in /usr/local/bin will do (the image test builds from a local one).
ARG BASE=node:20-bookworm-slim

FROM ${BASE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/copy-assets.mjs scripts/
COPY src src
COPY bench bench
RUN npm run build

FROM ${BASE} AS production-modules
WORKDIR /opt/magrathea
COPY package.json package-lock.json ./
# --ignore-scripts: the install scripts of ssh2 and cpu-features only try to
# compile optional native code with node-gyp (no compiler here, and node-gyp
# would fetch Node's headers from outside the npm registry); ssh2 runs on its
# JavaScript code, as everywhere else. msgpackr's native part comes prebuilt
# as an npm package and needs no script.
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force

FROM ${BASE}
# What `magrathea serve` runs: git (receive-pack, http-backend), ssh and
# ssh-keygen (hosts, the gateway's host key), rsync (releases to hosts),
# redis-server (the private Redis when REDIS_URL is not set), curl (a worker
# fetching a release's source from the gateway), util-linux and coreutils
# (flock, unshare, prlimit, setpriv, timeout: already in the base), tini (PID 1:
# reaps the ssh masters and git processes the gateway leaves to it).
# A temporary policy-rc.d keeps redis-server's package from starting its service.
# EXTRA_PACKAGES: what app builds need on the gateway (e.g. "composer php8.2-xml"); none by default.
ARG EXTRA_PACKAGES=""
RUN set -eux; \
    policy=/usr/sbin/policy-rc.d; added=""; \
    if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; added=1; fi; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      git openssh-client rsync redis-server curl ca-certificates tini $EXTRA_PACKAGES; \
    if [ -n "$added" ]; then rm -f "$policy"; fi; \
    apt-get clean; rm -rf /var/lib/apt/lists/*

# The gateway's own user. Builds (an app's `build:` commands or composer.json)
# need root and namespaces: see README; everything else runs as this user.
ARG MAGRATHEA_UID=10000
RUN groupadd --gid "$MAGRATHEA_UID" magrathea \
 && useradd --uid "$MAGRATHEA_UID" --gid magrathea --home-dir /home/magrathea --create-home --shell /bin/sh magrathea \
 && install -d -o magrathea -g magrathea -m 700 /var/lib/magrathea \
 && install -d -m 755 /etc/magrathea

WORKDIR /opt/magrathea
COPY --from=production-modules /opt/magrathea/node_modules node_modules
COPY --from=build /src/dist/src dist/src
COPY package.json package-lock.json ./
# The host agent and the rendered-host check are read beside dist/ at run time.
COPY libexec libexec
RUN ln -s /opt/magrathea/dist/src/cli/main.js /usr/local/bin/magrathea && chmod 755 dist/src/cli/main.js

ENV NODE_ENV=production \
    MAGRATHEA_CONFIG=/etc/magrathea
# /etc/magrathea: gateway.yml, clusters.yml, users.yml (read-only is fine).
# /var/lib/magrathea: repositories, releases, Redis data, the SSH host key
# (ssh/ssh_host_ed25519_key, made at first start) and the key to the hosts.
VOLUME ["/var/lib/magrathea"]
# 2222: SSH (git push, ssh magrathea ...). 5000: the HTTP API (plain HTTP:
# publish it on a loopback address behind a TLS proxy, never further).
EXPOSE 2222 5000
USER magrathea
# The HTTP API asked as a client would (no token needed): the process is up and its event loop answers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "--max-time", "4", "http://127.0.0.1:5000/v1/openapi.json"]
ENTRYPOINT ["/usr/bin/tini", "--", "magrathea"]
CMD ["serve", "--listen", "0.0.0.0:2222", "--http", "0.0.0.0:5000"]
