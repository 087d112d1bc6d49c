#!/usr/bin/env bash
# Machine prerequisites of the local scripts and tests; installs what is missing (Debian, as root).
set -euo pipefail
need=()
for tool in curl unzip openssl mvn javac setpriv pdftoppm chromium; do
    command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
# HAProxy in front of the Keycloak cluster (deploy/cluster/keycloak.sh); in /usr/sbin, which a
# non-root PATH may lack.
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
# Chinese font embedded in compliance PDF reports (policies/reports/pdf.py).
[ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(wqy-zenhei)
[ ${#need[@]} -eq 0 ] && exit 0
declare -A package=([curl]=curl [unzip]=unzip [openssl]=openssl [mvn]=maven [javac]=default-jdk-headless [setpriv]=util-linux [pdftoppm]=poppler-utils [wqy-zenhei]=fonts-wqy-zenhei [chromium]=chromium [haproxy]=haproxy)
pkgs=(); for tool in "${need[@]}"; do pkgs+=("${package[$tool]}"); done
if [ "$(id -u)" != 0 ]; then
    echo "prereqs: missing ${need[*]}; install: sudo apt-get install ${pkgs[*]}" >&2; exit 1
fi
echo "prereqs: installing ${pkgs[*]}" >&2
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
