#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs that are missing; installs nothing when all are present.
set -euo pipefail

# Build: compiler, CMake, pkg-config and the C libraries core/ wraps; clang and its runtime for libFuzzer.
BUILD_PKGS=(g++ cmake make pkg-config libfcgi-dev libpq-dev libhiredis-dev libjwt-dev libcjson-dev libargon2-dev
            libssl-dev libgtest-dev clang-format clang libclang-rt-14-dev
            prometheus-cpp-dev)  # core/prom_text: the Prometheus text exposition of every /metrics
# The stack: PostgreSQL 15 server, Redis, nginx, supervisor (runs every program of the dev stack, restarts the
# ones that die, and hands each FastCGI handler group its listening socket on fd 0).
STACK_PKGS=(postgresql-15 postgresql-client-15 redis-server redis-sentinel redis-tools nginx supervisor curl iproute2 util-linux
            gettext-base openssl procps)
# Tests and benchmarks: real clients (Debian's Python packages, since PyPI is out of reach) and wrk; git lists the
# repository's files for the CTest repo_paths; chromium is the headless browser that renders /docs and /redoc
# (tests/integration/test_docs_browser.py, with playwright-core).
TEST_PKGS=(python3 python3-pytest python3-httpx python3-websockets python3-argon2 wrk nodejs git chromium
           prometheus)  # promtool: checks every /metrics page and deploy/prometheus/ (config, rules, rule tests)
# npm: the build's npm ci of Swagger UI and ReDoc (cmake/www.cmake) and node's test clients (tests/integration/node);
# NodeSource's nodejs bundles it
command -v npm >/dev/null || TEST_PKGS+=(npm)
# The container tests (tests/container): debootstrap builds a Debian root, systemd-container's systemd-nspawn boots
# it with systemd as PID 1, so the Debian package is installed and started the way a real machine does it.
CONTAINER_PKGS=(debootstrap systemd-container)

# make deb and its checks: dpkg-shlibdeps (dpkg-dev) and `file` for CPack's Depends, binutils for strip, lintian,
# systemd for systemd-analyze verify of the units (tests/systemd), init-system-helpers for the maintainer scripts.
PKG_PKGS=(dpkg-dev file binutils lintian systemd init-system-helpers)

missing=()
for p in "${BUILD_PKGS[@]}" "${STACK_PKGS[@]}" "${TEST_PKGS[@]}" "${CONTAINER_PKGS[@]}" "${PKG_PKGS[@]}"; do
  dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "all Debian packages present"
  exit 0
fi
echo "installing ${missing[*]} (apt)"
SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)
export DEBIAN_FRONTEND=noninteractive
apt_install() { "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "$@"; }
# A fresh machine may have no package lists yet: update once, then install.
if ! apt_install "${missing[@]}"; then
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update
  apt_install "${missing[@]}"
fi
