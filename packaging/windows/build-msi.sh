#!/bin/sh
# Builds the Windows agent's .msi with wixl (Debian's wixl package, from
# msitools).
#
#   packaging/windows/build-msi.sh AGENT_EXE VERSION OUT_DIR
#
# AGENT_EXE: the Windows agent (cargo build -p steward-agent --features
#   standalone --profile agent --target x86_64-pc-windows-gnu). VERSION:
#   the product version, three numbers (e.g. 0.1.0).
# Prints the path of the .msi. Install it with
#   msiexec /i steward-agent-VERSION.msi TOKEN=<enrolment token> [RUNARGS="--interval 30s"] /qn
set -eu
exe=$1 version=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
case $version in
    *[!0-9.]* | '' | .* | *. | *..*) echo "VERSION must be numbers and dots: $version" >&2; exit 2 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# wixl finds the File's Source relative to the working directory.
cp "$exe" "$work/steward-agent.exe"
mkdir -p "$out"
msi=$(cd "$out" && pwd)/steward-agent-$version.msi
(cd "$work" && wixl -a x64 -D Version="$version" -D AgentExe=steward-agent.exe \
    -o "$msi" "$here/steward-agent.wxs")
echo "$msi"
