#!/bin/sh
# Builds the component package on a Mac (pkgbuild ships with Xcode's
# command line tools). Usage: packaging/macos/build.sh AGENT_BINARY VERSION
# [OUT.pkg]. The binary is a universal or single-architecture build of
# `cargo build -p steward-agent --features standalone --profile agent
# --target aarch64-apple-darwin` (and x86_64, joined with lipo).
set -eu
BIN="$1"; VERSION="$2"; OUT="${3:-steward-agent-$VERSION.pkg}"
HERE="$(cd "$(dirname "$0")" && pwd)"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
cp -R "$HERE/root/" "$STAGE/"
mkdir -p "$STAGE/usr/local/steward/bin"
install -m 755 "$BIN" "$STAGE/usr/local/steward/bin/steward-agent"
pkgbuild --root "$STAGE" \
  --scripts "$HERE/scripts" \
  --identifier io.steward.agent \
  --version "$VERSION" \
  --install-location / \
  --ownership recommended \
  "$OUT"
echo "$OUT"
