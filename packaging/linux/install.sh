#!/bin/sh
# Steward agent installer, served by the server at /install.sh:
#
#   curl -fsSk https://SERVER/install.sh | sudo sh -s -- STW1.TOKEN
#
# The script itself trusts nothing it downloads until checked: it reads the
# server's URL and the SHA-256 of its CA from the enrollment token (the
# token is what the administrator handed over), fetches the CA, compares it
# with that pin, and from then on talks to the server only over TLS
# verified by that CA: the agent binary, then enrollment (the agent pins
# the CA again). A server that does not hold the pinned CA gets nothing
# installed. Needs curl, sha256sum and base64 (coreutils).
#
# Self-updates are verified against release keys from this installation,
# never from the server: pass them in STEWARD_RELEASE_KEYS (the text of
# KEY.pub) or install them in /etc/steward-agent/release-keys yourself.
# STEWARD_INSTALL_ROOT installs under another root and leaves systemd alone.
set -eu
fail() { echo "steward install: $*" >&2; exit 1; }
token=${1:-}
[ -n "$token" ] || fail "usage: install.sh STW1.ENROLLMENT_TOKEN"
root=${STEWARD_INSTALL_ROOT:-}
for tool in curl sha256sum base64; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is needed"
done
body=${token#STW1.}
[ "$body" != "$token" ] || fail "not an enrollment token (it starts with STW1.)"
# base64url without padding -> base64
b64=$(printf '%s' "$body" | tr '_-' '/+')
case $(( ${#b64} % 4 )) in 2) b64="$b64==" ;; 3) b64="$b64=" ;; esac
json=$(printf '%s' "$b64" | base64 -d 2>/dev/null) || fail "the token does not decode"
field() { printf '%s' "$json" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
url=$(field url)
pin=$(field ca_sha256 | tr 'A-F' 'a-f')
case $url in https://*) ;; *) fail "the token names no https server" ;; esac
[ ${#pin} -eq 64 ] || fail "the token carries no CA pin"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Anyone could answer this first request: its answer is checked next.
curl -fsS --insecure --max-time 30 "$url/ca.pem" -o "$tmp/ca.pem" || fail "cannot reach $url"
got=$(sed '/-----/d' "$tmp/ca.pem" | tr -d '\r\n' | base64 -d | sha256sum | cut -d' ' -f1)
[ "$got" = "$pin" ] || fail "the server's CA ($got) is not the one the token pins ($pin): nothing installed"
echo "CA verified against the token's pin."
curl -fsS --cacert "$tmp/ca.pem" --max-time 600 "$url/agent/v1/download" -o "$tmp/steward-agent" \
    || fail "cannot download the agent"
chmod 0755 "$tmp/steward-agent"
"$tmp/steward-agent" --version >/dev/null 2>&1 || fail "the downloaded agent does not run on this machine"
install -d "$root/usr/lib/steward-agent" "$root/usr/bin" "$root/etc/steward-agent" \
    "$root/lib/systemd/system"
install -d -m 0700 "$root/var/lib/steward-agent"
install -m 0755 "$tmp/steward-agent" "$root/usr/lib/steward-agent/steward-agent"
ln -sf ../lib/steward-agent/steward-agent "$root/usr/bin/steward-agent"
if [ -n "${STEWARD_RELEASE_KEYS:-}" ]; then
    printf '%s\n' "$STEWARD_RELEASE_KEYS" > "$root/etc/steward-agent/release-keys"
elif [ ! -f "$root/etc/steward-agent/release-keys" ]; then
    printf '# Release public keys the agent trusts for self-updates, one per line.\n' \
        > "$root/etc/steward-agent/release-keys"
fi
cat > "$root/lib/systemd/system/steward-agent.service" <<'UNIT'
@UNIT@
UNIT
"$root/usr/lib/steward-agent/steward-agent" --state-dir "$root/var/lib/steward-agent" \
    enroll "$token" || fail "enrollment failed"
if [ -z "$root" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable --now steward-agent.service
    echo "The Steward agent is installed and running."
else
    echo "The Steward agent is installed under ${root:-/}; start it with:"
    echo "  $root/usr/lib/steward-agent/steward-agent --state-dir $root/var/lib/steward-agent run"
fi
