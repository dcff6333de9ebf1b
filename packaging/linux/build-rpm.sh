#!/bin/sh
# Builds the steward-agent .rpm with rpmbuild (Debian's rpm package has it).
#   packaging/linux/build-rpm.sh AGENT_BINARY VERSION OUT_DIR [RELEASE_KEYS]
# Prints the path of the .rpm.
set -eu
binary=$(realpath "$1") version=$2 out=$(mkdir -p "$3" && realpath "$3") keys=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
top=$(mktemp -d)
trap 'rm -rf "$top"' EXIT
set -- --define "_topdir $top" --define "_sourcedir $here" --define "_rpmdir $out" \
    --define "agent_binary $binary" --define "agent_version $version" \
    --define "_unitdir /lib/systemd/system"
if [ -n "$keys" ]; then
    set -- "$@" --define "release_keys $(realpath "$keys")"
fi
rpmbuild -bb --quiet "$@" "$here/steward-agent.spec" >&2
find "$out" -name "steward-agent-$version-*.rpm" | head -n 1
