#!/bin/sh
# Installs kit on Linux (x86-64, arm64) and macOS (Apple silicon):
#
#   curl -fsSL https://github.com/myorg/kit/releases/latest/download/install.sh | sh
#
# It picks this machine's release archive, downloads it and SHA256SUMS from the release page,
# checks the archive's SHA-256, checks that the binary runs here, and installs it as
# ~/.local/bin/kit. Nothing is installed when a step fails, and its temporary directory is
# removed on every exit (error, Ctrl-C, success).
#
# Environment:
#   KIT_INSTALL_BASE_URL  where the archives and SHA256SUMS are (default: the latest release,
#                         below); an internal mirror (https://, http://) or a directory
#                         (file:///srv/kit/0.1.0)
#   KIT_INSTALL_DIR       where kit goes (default: ~/.local/bin)
#
# POSIX sh (dash, bash, busybox ash, zsh in sh mode). Needs curl or wget (not for file://), tar
# or unzip, and sha256sum, shasum or openssl.
set -eu

# The project's release page: the latest release's assets.
KIT_RELEASES_URL="https://github.com/myorg/kit/releases/latest/download"

base_url=${KIT_INSTALL_BASE_URL:-$KIT_RELEASES_URL}
base_url=${base_url%/}
install_dir=${KIT_INSTALL_DIR:-${HOME:?HOME is not set; set KIT_INSTALL_DIR}/.local/bin}

tmp=""
staged=""
cleanup() {
  [ -z "$staged" ] || rm -f "$staged"
  [ -z "$tmp" ] || rm -rf "$tmp"
}
trap cleanup EXIT
interrupted() {
  printf '\nkit install: interrupted. Nothing was installed.\n' >&2
  exit "$1"
}
trap 'interrupted 130' INT
trap 'interrupted 143' TERM
trap 'interrupted 129' HUP

say() { for line in "$@"; do printf '%s\n' "$line"; done; }
fail() {
  printf 'kit install: %s\n' "$1" >&2
  shift
  for line in "$@"; do printf '  %s\n' "$line" >&2; done
  printf 'Nothing was installed.\n' >&2
  exit 1
}

# --- which archive -------------------------------------------------------------------------
os=$(uname -s)
arch=$(uname -m)
case "$os" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  MINGW* | MSYS* | CYGWIN* | Windows_NT)
    fail "this is Windows: run install.ps1 in PowerShell instead" \
      "irm ${KIT_RELEASES_URL}/install.ps1 | iex" ;;
  *) fail "there is no kit release for $os" "Releases: Linux (x86-64, arm64), macOS (Apple silicon), Windows (x86-64)." ;;
esac
case "$arch" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
esac
case "$os-$arch" in
  linux-x64 | linux-arm64) archive="kitops-$os-$arch.tar.gz" ;;
  darwin-arm64) archive="kitops-darwin-arm64.zip" ;;
  darwin-x64) fail "there is no kit release for Intel Macs (macOS on x86-64)" "Releases: Linux (x86-64, arm64), macOS (Apple silicon), Windows (x86-64)." ;;
  *) fail "there is no kit release for $os on $arch" "Releases: Linux (x86-64, arm64), macOS (Apple silicon), Windows (x86-64)." ;;
esac

# --- tools ---------------------------------------------------------------------------------
have() { command -v "$1" >/dev/null 2>&1; }

# download URL FILE: file:// is copied; http(s) with curl, else wget
download() {
  case "$1" in
    file://*)
      src=${1#file://}
      src=${src#localhost}
      [ -f "$src" ] || { printf 'kit install: %s: no such file\n' "$src" >&2; return 1; }
      cp "$src" "$2"
      ;;
    http://* | https://*)
      if have curl; then
        if [ -t 2 ]; then progress=--progress-bar; else progress=-sS; fi
        curl -fL --retry 2 --connect-timeout 20 $progress -o "$2" "$1"
      elif have wget; then
        wget -q -O "$2" "$1"
      else
        printf 'kit install: neither curl nor wget is installed\n' >&2
        return 1
      fi
      ;;
    *)
      printf 'kit install: KIT_INSTALL_BASE_URL must start with https://, http:// or file:// (got %s)\n' "$base_url" >&2
      return 1
      ;;
  esac
}

sha256_of() {
  if have sha256sum; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif have shasum; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  elif have openssl; then
    openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1
  else
    return 1
  fi
}

# --- download and check --------------------------------------------------------------------
tmp=$(mktemp -d 2>/dev/null || mktemp -d -t kit-install)

say "Downloading $archive from $base_url"
download "$base_url/SHA256SUMS" "$tmp/SHA256SUMS" || fail "could not download $base_url/SHA256SUMS"
download "$base_url/$archive" "$tmp/$archive" || fail "could not download $base_url/$archive"

# the line for this archive: "<64 hex>  <name>" (or " *<name>", binary mode)
expected=$(awk -v n="$archive" '($2 == n || $2 == "*" n) && length($1) == 64 { print tolower($1); exit }' "$tmp/SHA256SUMS")
[ -n "$expected" ] || fail "SHA256SUMS at $base_url has no line for $archive"
actual=$(sha256_of "$tmp/$archive") || fail "cannot compute a SHA-256: install sha256sum (coreutils), shasum or openssl"
if [ "$actual" != "$expected" ]; then
  fail "checksum mismatch: $archive is not the file SHA256SUMS lists" \
    "expected sha256 $expected" \
    "got      sha256 $actual" \
    "The download was damaged or the file on the server was replaced."
fi

mkdir "$tmp/x"
case "$archive" in
  *.tar.gz) tar -xzf "$tmp/$archive" -C "$tmp/x" kit || fail "could not extract kit from $archive" ;;
  *.zip)
    if have unzip; then
      unzip -q "$tmp/$archive" kit -d "$tmp/x" || fail "could not extract kit from $archive"
    else
      tar -xf "$tmp/$archive" -C "$tmp/x" kit || fail "could not extract kit from $archive (install unzip)"
    fi
    ;;
esac
[ -f "$tmp/x/kit" ] || fail "$archive holds no kit binary"
chmod 0755 "$tmp/x/kit"
# a browser-style quarantine attribute would stop Gatekeeper from running it (macOS)
if [ "$os" = darwin ] && have xattr; then xattr -d com.apple.quarantine "$tmp/x/kit" 2>/dev/null || true; fi

# it must run here (an old glibc, say, shows up now rather than later)
if ! version=$("$tmp/x/kit" version 2>&1); then
  needs=""
  [ "$os" != linux ] || needs="kit needs glibc 2.17 or newer (Debian, Ubuntu, Fedora, RHEL; not Alpine's musl)."
  fail "kit does not run on this machine ($os-$arch):" "$(printf '%s\n' "$version" | head -n 3)" ${needs:+"$needs"}
fi
version=$(printf '%s\n' "$version" | sed -n 's/^Version: //p')

# --- install -------------------------------------------------------------------------------
[ ! -d "$install_dir/kit" ] || fail "$install_dir/kit is a directory"
mkdir -p "$install_dir" || fail "cannot create $install_dir (set KIT_INSTALL_DIR to a directory you can write)"
staged="$install_dir/.kit-install.$$"
cp "$tmp/x/kit" "$staged" || fail "cannot write to $install_dir (set KIT_INSTALL_DIR to a directory you can write)"
chmod 0755 "$staged"
mv -f "$staged" "$install_dir/kit" || fail "cannot replace $install_dir/kit"
staged=""

say "Installed kit ${version:-} to $install_dir/kit"
case ":${PATH:-}:" in
  *":$install_dir:"* | *":$install_dir/:"*)
    found=$(command -v kit 2>/dev/null || true)
    if [ -n "$found" ] && [ "$found" != "$install_dir/kit" ]; then
      say "" "Note: $found comes first on your PATH; run $install_dir/kit, or remove the other one."
    fi
    ;;
  *)
    case "${SHELL:-}" in
      */zsh) rc="~/.zshrc" ;;
      */bash) rc="~/.bashrc" ;;
      */fish) rc="" ;;
      *) rc="~/.profile" ;;
    esac
    say "" "$install_dir is not on your PATH. Add it:"
    if [ -z "$rc" ]; then
      say "  fish_add_path $install_dir"
    else
      say "  echo 'export PATH=\"$install_dir:\$PATH\"' >> $rc && export PATH=\"$install_dir:\$PATH\""
    fi
    ;;
esac
say "" "Next: in your project's directory, describe it in a Kitfile:" "  kit init ."
