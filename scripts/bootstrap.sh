#!/usr/bin/env bash
# bootstrap.sh - install the Debian packages Strike needs to build and test.
#
# Reads every scripts/packages/*.txt. Idempotent and fast when everything is installed: it only
# calls apt-get for what is missing. Needs root (or sudo) for the install step.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

want=()
for list in "$here"/packages/*.txt; do
  while read -r pkg _; do
    [[ -z "$pkg" || "$pkg" == \#* ]] && continue
    want+=("$pkg")
  done < "$list"
done

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all ${#want[@]} packages present"
  exit 0
fi

echo "bootstrap: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
