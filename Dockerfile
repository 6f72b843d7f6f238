# kit container images.
#
#   docker build -t kit .                    the kit CLI (ENTRYPOINT kit)
#   docker build -t kit-init --target init .  the init container (build/init/entrypoint.sh + cosign)
#   docker build -t kit-kserve --target kserve .  KServe's storage initializer for kit:// URIs
#                                            (build/kserve/entrypoint.sh; docs/kserve.md)
#
# The build stage installs the locked npm dependencies, so Bun is the version pinned in
# package.json, and compiles dist/kit for the build platform (linux/amd64 or linux/arm64 with
# `docker buildx build --platform ...`). Only that one file goes into the runtime images.
#
# Runtime base: debian:12-slim. The binary is Bun's glibc build, and the llama.cpp files that
# `kit dev` extracts from it link against glibc (≥ 2.34) and libstdc++ (GLIBCXX_3.4.30, GCC 12)
# plus libgcc_s, all of which debian:12-slim already has (apt needs them). The init entrypoint is
# a shell script, so the image needs /bin/sh: that rules out gcr.io/distroless/cc-debian12, which
# has the same libraries but no shell. Alpine would need a musl build of kit and of llama.cpp.

ARG COSIGN_IMAGE=gcr.io/projectsigstore/cosign:v2.4.0

# ---------------------------------------------------------------------------------------------
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json bunfig.toml ./
COPY scripts ./scripts
COPY src ./src
# Without .git in the context, pass the commit and a fixed build time:
#   --build-arg KIT_BUILD_COMMIT=$(git rev-parse --short=12 HEAD) --build-arg SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
ARG KIT_BUILD_COMMIT=unknown
ARG SOURCE_DATE_EPOCH
RUN KIT_BUILD_COMMIT="$KIT_BUILD_COMMIT" SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" node_modules/.bin/bun scripts/build.ts \
 && ./dist/kit version

# ---------------------------------------------------------------------------------------------
FROM ${COSIGN_IMAGE} AS cosign

# ---------------------------------------------------------------------------------------------
# What both images share: the binary, the init script, user 1001.
FROM debian:12-slim AS runtime
RUN groupadd --gid 1001 user \
 && useradd --uid 1001 --gid 1001 --home-dir /home/user --create-home --shell /bin/sh user
COPY --from=build /src/dist/kit /usr/local/bin/kit
COPY --chmod=0755 build/init/entrypoint.sh /usr/local/bin/kit-init
USER 1001
ENV HOME=/home/user
WORKDIR /home/user
LABEL org.opencontainers.image.licenses="Apache-2.0"

# ---------------------------------------------------------------------------------------------
# Init container: unpacks $MODELKIT_REF into $UNPACK_PATH (see build/init/entrypoint.sh),
# verifying its signature with cosign first when COSIGN_KEY or COSIGN_CERT_* are set.
FROM runtime AS init
COPY --from=cosign /ko-app/cosign /usr/local/bin/cosign
ENTRYPOINT ["/usr/local/bin/kit-init"]
LABEL org.opencontainers.image.title="kit-init" \
      org.opencontainers.image.description="kit init container: unpacks a ModelKit before the main container starts"

# ---------------------------------------------------------------------------------------------
# KServe storage initializer: a ClusterStorageContainer runs `kit-kserve kit://<ref> <dir>` for
# InferenceServices whose storageUri starts with kit:// (KIT_USER, KIT_PASSWORD, KIT_UNPACK_FLAGS).
FROM runtime AS kserve
COPY --chmod=0755 build/kserve/entrypoint.sh /usr/local/bin/kit-kserve
ENTRYPOINT ["/usr/local/bin/kit-kserve"]
LABEL org.opencontainers.image.title="kit-kserve" \
      org.opencontainers.image.description="kit storage initializer for KServe: unpacks kit:// ModelKits for InferenceServices"

# ---------------------------------------------------------------------------------------------
# The CLI image (the last stage, so the default target). `kit-init` is there too, for pods that
# do not need signature checks: command: ["kit-init"].
FROM runtime AS kit
ENTRYPOINT ["/usr/local/bin/kit"]
CMD ["--help"]
LABEL org.opencontainers.image.title="kit" \
      org.opencontainers.image.description="kit CLI for ModelKits (OCI artifacts for AI/ML projects)"
