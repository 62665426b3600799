#!/usr/bin/env bash
# gpu-prep.sh - run on a development machine (Debian 12, network) before bench/gpu.sh: downloads
# (apt-get download: no install, no root) the few Debian packages the engine build and its tests
# need that a bare GPU machine lacks (it has the CUDA toolkit, CMake, ninja, Python + PyTorch and
# no network), into bench/.gpu-deps/ (ignored by git; it travels with the working tree).
# bench/gpu.sh unpacks them into a local prefix with dpkg-deb -x.
#
#   jansson       engine (config.json, tokenizer files)          libjansson-dev libjansson4
#   OpenBLAS      CPU backend fast path (optional in the build)  libopenblas*-pthread + gfortran
#   zlib          tests/engine/text.cmake (find_package(ZLIB))   zlib1g-dev zlib1g
#   pkg-config    CMake's FindPkgConfig                          pkgconf-bin libpkgconf3
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/bench/.gpu-deps"
pkgs=(libjansson-dev libjansson4
      libopenblas-pthread-dev libopenblas0-pthread libgfortran5 libquadmath0
      zlib1g-dev zlib1g
      pkgconf-bin libpkgconf3)
mkdir -p "$dest"
cd "$dest"
rm -f ./*.deb MANIFEST
apt-get download "${pkgs[@]}"
for f in ./*.deb; do
  dpkg-deb -f "$f" Package Version Architecture | paste -sd' ' >> MANIFEST
done
echo "gpu-prep: $(ls ./*.deb | wc -l) packages, $(du -sh . | cut -f1) in $dest"
cat MANIFEST
