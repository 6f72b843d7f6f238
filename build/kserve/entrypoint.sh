#!/bin/sh
# kit storage initializer for KServe: KServe's ClusterStorageContainer runs it as
#   entrypoint.sh kit://<modelkit reference> <destination directory>
# for InferenceServices whose storageUri starts with kit:// (docs/kserve.md). Compatible with
# KitOps' KServe image; POSIX sh, so it runs on any image with /bin/sh (dash, busybox, bash).
#
# Configuration through environment variables:
#   KIT_USER, KIT_PASSWORD       log in to the ModelKit's registry first (the password goes to
#                                `kit login --password-stdin`, never on a command line)
#   AWS_WEB_IDENTITY_TOKEN_FILE  without KIT_USER and KIT_PASSWORD: when this file exists (default
#                                /var/run/secrets/eks.amazonaws.com/serviceaccount/token, EKS IRSA),
#                                log in as user AWS with its content
#   KIT_UNPACK_FLAGS             more `kit unpack` flags, split at whitespace (e.g. "--plain-http -v");
#                                --plain-http and --tls-verify=… among them apply to the login too
set -e

echo "Binary version info:"
kit version

if [ "$#" -ne 2 ]; then
  echo "Usage: entrypoint.sh <src-uri> <dest-path>"
  exit 1
fi

REF=${1#kit://}
OUTPUT_DIR=$2
# The registry is the reference's first path segment.
REGISTRY=${REF%%/*}

# Flags of KIT_UNPACK_FLAGS that `kit login` understands as well.
LOGIN_FLAGS=""
set -f
# shellcheck disable=SC2086
for flag in $KIT_UNPACK_FLAGS; do
  case "$flag" in
    --plain-http | --plain-http=* | --tls-verify=*) LOGIN_FLAGS="$LOGIN_FLAGS $flag" ;;
  esac
done
set +f

login() {
  # $1: user; the password comes on standard input.
  set -f
  # shellcheck disable=SC2086
  kit login "$REGISTRY" -u "$1" --password-stdin $LOGIN_FLAGS
  set +f
}

if [ -n "$KIT_USER" ] && [ -n "$KIT_PASSWORD" ]; then
  echo "Logging in using repo url: $REGISTRY"
  printf '%s\n' "$KIT_PASSWORD" | login "$KIT_USER"
elif [ -z "$KIT_USER" ] && [ -z "$KIT_PASSWORD" ]; then
  TOKEN_FILE=${AWS_WEB_IDENTITY_TOKEN_FILE:-/var/run/secrets/eks.amazonaws.com/serviceaccount/token}
  if [ -f "$TOKEN_FILE" ]; then
    echo "Logging in using IRSA token to repo url: $REGISTRY"
    login AWS < "$TOKEN_FILE"
  fi
fi

echo "Unpacking $REF to $OUTPUT_DIR"
echo "Unpack options: $KIT_UNPACK_FLAGS"
# Word-split KIT_UNPACK_FLAGS into the positional parameters, without expanding * or ?.
set -f
# shellcheck disable=SC2086
set -- $KIT_UNPACK_FLAGS
set +f
kit unpack "$REF" -d "$OUTPUT_DIR" "$@"

if [ -f "$OUTPUT_DIR/Kitfile" ]; then
  echo "Unpacked modelkit:"
  cat "$OUTPUT_DIR/Kitfile"
fi
