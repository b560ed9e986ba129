#!/usr/bin/env bash
# Install the Debian packages the tests need, each given as PROGRAM:PACKAGE, unless PROGRAM is already there.
# Run by `make test` (CI: a fresh Debian machine, as root). Package scripts must not start services (Debian's nginx
# package would start the system nginx on port 80): policy-rc.d refuses them for the duration of the install.
set -euo pipefail
missing=()
for spec in "$@"; do
  [ -x "${spec%%:*}" ] || missing+=("${spec#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "the tests need these Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
policy=/usr/sbin/policy-rc.d
placed=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && placed=1
fi
trap '[ "$placed" = 1 ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
echo "installing Debian packages for the tests: ${missing[*]}"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
