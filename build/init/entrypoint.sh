#!/bin/sh
# kit init container: unpacks a ModelKit into a directory before the main container starts.
# Compatible with KitOps' init image (build/dockerfiles/init/entrypoint.sh); POSIX sh, so it runs
# on any image with /bin/sh (dash, busybox, bash).
#
# Configuration through environment variables:
#   MODELKIT_REF             the ModelKit to unpack (required)
#   UNPACK_PATH              where to unpack it (default /home/user/modelkit/)
#   UNPACK_FILTER            what to unpack, as `kit unpack --filter` (default: model)
#   EXTRA_FLAGS              more `kit unpack` flags, split at whitespace (default: --ignore-existing);
#                            when they hold a -d/--dir flag, UNPACK_PATH is not passed
#   KIT_VERIFY_KEY           verify the ModelKit's signature with kit itself (`kit unpack --verify-key`):
#                            public key files (cosign.pub), comma-separated; offline, no cosign needed
#   COSIGN_KEY               verify the ModelKit's signature with this key (path, URL or KMS URI) first
#   COSIGN_CERT_IDENTITY     with COSIGN_CERT_OIDC_ISSUER: keyless verification of the signer instead
#   COSIGN_CERT_OIDC_ISSUER
set -e

UNPACK_PATH=${UNPACK_PATH:-/home/user/modelkit/}
UNPACK_FILTER=${UNPACK_FILTER:-model}
if [ -z "$MODELKIT_REF" ]; then
  echo "Environment variable \$MODELKIT_REF is required"
  exit 1
fi

# Word-split EXTRA_FLAGS into the positional parameters, without expanding * or ?.
set -f
# shellcheck disable=SC2086
set -- $EXTRA_FLAGS
set +f
FLAGS_HAS_DIR=false
for flag in "$@"; do
  case "$flag" in
    -d* | --dir*) FLAGS_HAS_DIR=true ;;
  esac
done
if [ "$#" -eq 0 ]; then
  set -- --ignore-existing
fi

require_cosign() {
  if ! command -v cosign >/dev/null 2>&1; then
    echo "Signature verification was requested through $1 but cosign is not installed: use an image that includes cosign (the init target of kit's Dockerfile), or unset $1 (KIT_VERIFY_KEY verifies a key signature without cosign)" >&2
    exit 1
  fi
}

# Either a key, or an identity and OIDC issuer for keyless verification.
if [ -n "$COSIGN_KEY" ]; then
  require_cosign "COSIGN_KEY"
  echo "Verifying signature for modelkit $MODELKIT_REF via key"
  cosign verify --key "$COSIGN_KEY" "$MODELKIT_REF"
elif [ -n "$COSIGN_CERT_IDENTITY" ] && [ -n "$COSIGN_CERT_OIDC_ISSUER" ]; then
  require_cosign "COSIGN_CERT_IDENTITY and COSIGN_CERT_OIDC_ISSUER"
  echo "Verifying signature for modelkit $MODELKIT_REF"
  cosign verify \
    "--certificate-identity=$COSIGN_CERT_IDENTITY" \
    "--certificate-oidc-issuer=$COSIGN_CERT_OIDC_ISSUER" \
    "$MODELKIT_REF"
elif [ -z "$KIT_VERIFY_KEY" ]; then
  echo "Signature verification is disabled"
fi
# kit unpack reads KIT_VERIFY_KEY itself and refuses the ModelKit before writing anything.
if [ -n "$KIT_VERIFY_KEY" ]; then
  echo "Verifying signature for modelkit $MODELKIT_REF with kit (KIT_VERIFY_KEY)"
fi

echo "Binary version info:"
kit version

if [ "$FLAGS_HAS_DIR" = false ]; then
  echo "Unpacking modelkit $MODELKIT_REF to $UNPACK_PATH with filter '$UNPACK_FILTER'. Additional flags: $*"
  exec kit unpack "$MODELKIT_REF" --dir "$UNPACK_PATH" --filter="$UNPACK_FILTER" "$@"
else
  echo "Unpacking modelkit $MODELKIT_REF with flags '--filter=$UNPACK_FILTER $*'"
  exec kit unpack "$MODELKIT_REF" --filter="$UNPACK_FILTER" "$@"
fi
