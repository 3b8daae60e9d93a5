# syntax=docker/dockerfile:1.7
# The Aphex pipeline image: one `aphex` binary (deno compile) on a slim runtime with git, Node.js/npm
# (for the users' CDK apps), CA certificates and OpenSSH, running as a non-root user.
#
#   docker build -t registry.example.com/aphex:0.1.0 .
#
# Base images are pinned by version; pin them by digest too in your registry mirror
# (`docker buildx imagetools inspect denoland/deno:debian-2.9.6`). No secrets enter any layer:
# the build needs only the public npm registry.

# --- stage 1: test and compile -------------------------------------------------------------------
FROM denoland/deno:debian-2.9.6 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends git util-linux ca-certificates nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so source edits do not invalidate the dependency layer.
COPY deno.json deno.lock ./
COPY tests/fixtures/cdk-app/package.json tests/fixtures/cdk-app/package-lock.json tests/fixtures/cdk-app/
RUN npm ci --prefix tests/fixtures/cdk-app --no-audit --no-fund
COPY . .
# `deno task compile` bundles with code splitting (dist/bundle/) and compiles that: the binary
# loads each command's chunk only when the command runs.
RUN deno install --frozen \
 && deno task test \
 && deno task compile

# --- stage 2: runtime ----------------------------------------------------------------------------
FROM node:22.21.1-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates util-linux \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --create-home --shell /bin/bash aphex \
 && mkdir -p /workspace /tmp/aphex/outputs \
 && chown aphex:aphex /workspace /tmp/aphex/outputs
COPY --from=build /src/dist/aphex /usr/local/bin/aphex
USER 10001:10001
WORKDIR /workspace
ENV APHEX_WORKSPACE=/workspace \
    APHEX_OUTPUTS_DIR=/tmp/aphex/outputs \
    NPM_CONFIG_UPDATE_NOTIFIER=false
ENTRYPOINT ["aphex"]
CMD ["--help"]
