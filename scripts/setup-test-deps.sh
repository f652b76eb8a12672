#!/usr/bin/env bash
# Installs what the tests need beyond node_modules, from Debian's archive only:
#   chromium              headless browser for Vitest browser mode and Playwright; its SwiftShader Vulkan
#                         driver also gives Node's `webgpu` package an adapter on machines without a GPU
#   libvulkan1            the Vulkan loader, which Node's `webgpu` (Dawn) needs to open that driver
#   python3-torch, -numpy PyTorch reference networks and golden vectors (parity tests)
#   python3-h5py, -nibabel, -scipy, -skimage, -sklearn   fixtures for the file readers; metric and ridge oracles
# Idempotent: does nothing when everything is present. Needs root (or sudo) only when something is missing.
set -euo pipefail

missing=()
have_py() { /usr/bin/python3 -c "import $1" >/dev/null 2>&1; }
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -f /usr/lib/chromium/vk_swiftshader_icd.json ] || missing+=(chromium)
[ -e /usr/lib/x86_64-linux-gnu/libvulkan.so.1 ] || ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 ' || missing+=(libvulkan1)
have_py torch || missing+=(python3-torch)
have_py numpy || missing+=(python3-numpy)
have_py h5py || missing+=(python3-h5py)
have_py nibabel || missing+=(python3-nibabel)
have_py scipy || missing+=(python3-scipy)
have_py skimage || missing+=(python3-skimage)
have_py sklearn || missing+=(python3-sklearn)

if [ ${#missing[@]} -eq 0 ]; then
  echo "test prerequisites: all present"
  exit 0
fi
# shellcheck disable=SC2207
missing=($(printf '%s\n' "${missing[@]}" | sort -u))
echo "test prerequisites: installing ${missing[*]} from Debian"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: need root or sudo to apt-get install ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" python3-minimal >/dev/null
echo "test prerequisites: installed"
