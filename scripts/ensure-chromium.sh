#!/usr/bin/env bash
# Installs Debian's chromium for the explorer's browser test when it is missing (playwright's own
# browser download cannot reach its servers here; Debian's package can). Needs root for apt-get.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is missing and installing it needs root: run  sudo apt-get update && sudo apt-get install -y chromium" >&2
  exit 1
fi
echo "installing chromium (Debian package) for the browser test…" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq chromium >&2
