#!/usr/bin/env bash
# Installs the Debian packages Lido needs, idempotently. Sourced by scripts/run and scripts/test.
# As root it runs apt-get; as another user it prints the line to run and stops.
set -euo pipefail
LIDO_PACKAGES=(
  cmake ninja-build g++ pkg-config ccache clang
  qt6-base-dev qt6-charts-dev qt6-svg-dev libqt6opengl6-dev libgl-dev
  libpugixml-dev libspdlog-dev libasio-dev node-llhttp libdtl-dev libcli11-dev
  libpcre2-dev libssl-dev openssl zlib1g-dev libbrotli-dev libfcgi-dev php-cgi media-types xvfb xauth trayer curl nlohmann-json3-dev
  mediawiki php-sqlite3 php-laravel-framework
  libnghttp2-dev nghttp2-client pebble
  dpkg-dev file man-db desktop-file-utils appstream bash-completion logrotate
  haproxy prometheus openssh-server openssh-client
)
missing=()
for p in "${LIDO_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Lido needs these Debian packages. Run as root:" >&2
  echo "  apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "lido: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
