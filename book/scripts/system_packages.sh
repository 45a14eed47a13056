#!/usr/bin/env bash
# The Debian packages `make test` needs, installed when they are missing:
#   dataset-fashion-mnist  the offline copy of the book's dataset
#   chromium               the browser that reads the rendered book (no browser download)
#   fonts-dejavu-core      a font for the figures and the browser
#   gcc                    builds the SE tail's CPU kernel (without it the tail runs as PyTorch operations)
# As root (CI, a container) they are installed with apt-get; otherwise the
# script names the one command to run and stops `make test` before any test.
set -euo pipefail
packages=(dataset-fashion-mnist chromium fonts-dejavu-core gcc)

if ! command -v dpkg >/dev/null 2>&1; then
  if [ -d /usr/share/datasets/fashion-mnist ] && command -v chromium >/dev/null 2>&1; then
    exit 0
  fi
  echo "make test needs Fashion-MNIST in /usr/share/datasets/fashion-mnist and Chromium at /usr/bin/chromium" \
       "(Debian's ${packages[*]}); this system has no dpkg to install them." >&2
  exit 1
fi

missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "make test needs Debian's ${missing[*]}: run  sudo apt-get install ${missing[*]}  and then make test again." >&2
  exit 1
fi
echo "installing Debian's ${missing[*]} (make test needs them)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
