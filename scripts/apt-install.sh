#!/usr/bin/env bash
# apt_install PACKAGE...: install Debian packages as root or through sudo; returns 1 when neither is possible.
# Sourced by the install-*-deps.sh scripts.
apt_install() {
  local as=()
  if [ "$(id -u)" != "0" ]; then
    command -v sudo >/dev/null 2>&1 || return 1
    as=(sudo)
  fi
  "${as[@]}" apt-get update -qq
  "${as[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
