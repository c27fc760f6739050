#!/usr/bin/env bash
# Installs every Debian package xbar builds, tests or plots with. Idempotent: apt-get skips
# what is already installed. Run as root (or with sudo available).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libngspice0-dev ngspice
  libsuitesparse-dev libopenblas0-pthread libopenblas-dev
  libeigen3-dev libhwy-dev
  libhdf5-dev hdf5-tools
  catch2 libtomlplusplus-dev libcli11-dev libfmt-dev
  python3 python3-numpy python3-h5py python3-matplotlib python3-scipy
  python3-dev pybind11-dev python3-pybind11 python3-pytest python3-torch python3-sklearn
  libopenmpi-dev openmpi-bin
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "setup: done"
