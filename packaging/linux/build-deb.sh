#!/bin/sh
# Builds the steward-agent .deb with dpkg-deb (no debhelper needed).
#
#   packaging/linux/build-deb.sh AGENT_BINARY VERSION OUT_DIR [RELEASE_KEYS]
#
# AGENT_BINARY: the built agent (cargo build --profile agent -p steward-agent
#   --features standalone). VERSION: the package version (e.g. 0.1.0).
# RELEASE_KEYS: the release public keys the agent pins for self-updates
#   (steward agent-release keygen writes KEY.pub); without it the package
#   ships an empty key file and the agent refuses every update.
# DEB_COMPRESSION: xz (default), gzip, zstd or none.
# Prints the path of the .deb.
set -eu
binary=$1 version=$2 out=$3 keys=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
arch=$(dpkg --print-architecture)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
install -d "$root/DEBIAN" "$root/usr/lib/steward-agent" "$root/usr/bin" \
    "$root/lib/systemd/system" "$root/etc/steward-agent" \
    "$root/usr/share/doc/steward-agent"
install -m 0755 "$binary" "$root/usr/lib/steward-agent/steward-agent"
ln -s ../lib/steward-agent/steward-agent "$root/usr/bin/steward-agent"
install -m 0644 "$here/steward-agent.service" "$root/lib/systemd/system/steward-agent.service"
install -m 0644 "$here/hardened.conf" "$root/usr/share/doc/steward-agent/hardened.conf"
if [ -n "$keys" ]; then
    install -m 0644 "$keys" "$root/etc/steward-agent/release-keys"
else
    printf '# Release public keys the agent trusts for self-updates, one per line.\n' \
        > "$root/etc/steward-agent/release-keys"
fi
printf 'Steward agent, packaged by packaging/linux/build-deb.sh.\nLicense: see the Steward repository.\n' \
    > "$root/usr/share/doc/steward-agent/copyright"
for script in postinst prerm postrm; do
    install -m 0755 "$here/debian/$script" "$root/DEBIAN/$script"
done
echo /etc/steward-agent/release-keys > "$root/DEBIAN/conffiles"
size=$(du -sk "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: steward-agent
Version: $version
Architecture: $arch
Maintainer: Steward <steward@localhost>
Installed-Size: $size
Depends: libc6
Section: admin
Priority: optional
Homepage: https://github.com/steward-rmm/steward
Description: Steward endpoint agent (remote monitoring and management)
 Reports metrics, inventory, checks and the security posture of this machine
 to a Steward server, and runs the jobs the server signs. Enrol it with
 "steward-agent enroll TOKEN", then "systemctl enable --now steward-agent".
CONTROL
mkdir -p "$out"
deb="$out/steward-agent_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" --build "$root" "$deb" >/dev/null
echo "$deb"
