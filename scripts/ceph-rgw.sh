#!/usr/bin/env bash
# A real S3 server for tests: a single-node Ceph (one mon, one memstore OSD) with the RADOS
# Gateway on 127.0.0.1. Test-only: auth none inside the cluster, everything in memory.
#
#   scripts/ceph-rgw.sh install   apt packages (ceph-mon ceph-osd radosgw ceph-common curl)
#   scripts/ceph-rgw.sh start     start it (idempotent), wait until S3 answers
#   scripts/ceph-rgw.sh env       print the MAGS_TEST_S3_* exports for the tests
#   scripts/ceph-rgw.sh stop      stop it and remove its directory
set -euo pipefail

dir=${MAGS_CEPH_DIR:-/tmp/mags-ceph}
port=${MAGS_CEPH_RGW_PORT:-7480}
access_key=magstest
secret_key=magstestsecret
conf="$dir/ceph.conf"

ceph_cmd() { ceph -c "$conf" "$@"; }

install() {
  local missing=()
  for package in ceph-mon ceph-osd radosgw ceph-common curl; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

answering() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; }

start() {
  if answering; then echo "ceph-rgw: already running on 127.0.0.1:$port"; return; fi
  command -v radosgw >/dev/null || { echo "ceph-rgw: not installed: run $0 install" >&2; exit 1; }
  rm -rf "$dir"
  mkdir -p "$dir"/{run,log,mon/ceph-a,osd/ceph-0,rgw}
  local fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  cat > "$conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:3300
mon initial members = a
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
# With auth none, every messenger mode must allow crc, or rgw loops on
# "get_initial_auth_request returned -13" (measured here; see GUIDE §4).
ms cluster mode = crc secure
ms service mode = crc secure
ms client mode = crc secure
ms mon cluster mode = crc secure
ms mon service mode = crc secure
ms mon client mode = crc secure
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
mon data = $dir/mon/\$cluster-\$id
osd data = $dir/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = 4294967296
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
mon max pg per osd = 1000

[client.rgw.gw]
rgw frontends = beast endpoint=127.0.0.1:$port
rgw data = $dir/rgw
rgw enable usage log = false
EOF
  monmaptool --create --addv a "[v2:127.0.0.1:3300]" --fsid "$fsid" "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" -i a
  local osd_id osd_uuid
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  osd_id=$(ceph_cmd osd create "$osd_uuid")
  # The OSD's own uuid must be the one registered, or the monitor ignores its boot message.
  ceph-osd -c "$conf" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >/dev/null 2>&1
  ceph-osd -c "$conf" -i "$osd_id"
  radosgw -c "$conf" -n client.rgw.gw >/dev/null 2>&1
  for _ in $(seq 1 120); do
    if answering; then break; fi
    sleep 0.5
  done
  answering || { echo "ceph-rgw: the gateway did not come up; logs in $dir/log" >&2; tail -5 "$dir"/log/*rgw*.log >&2 || true; exit 1; }
  radosgw-admin -c "$conf" user create --uid=mags --display-name=mags \
    --access-key="$access_key" --secret-key="$secret_key" >/dev/null
  echo "ceph-rgw: S3 on http://127.0.0.1:$port (access key $access_key)"
}

print_env() {
  echo "export MAGS_TEST_S3_ENDPOINT=http://127.0.0.1:$port"
  echo "export MAGS_TEST_S3_ACCESS_KEY_ID=$access_key"
  echo "export MAGS_TEST_S3_SECRET_ACCESS_KEY=$secret_key"
}

stop() {
  for daemon in radosgw ceph-osd ceph-mon; do pkill -f "$daemon -c $conf" 2>/dev/null || true; done
  # ceph-osd can ignore SIGTERM for more than 5 s (GUIDE §4).
  sleep 2
  for daemon in radosgw ceph-osd ceph-mon; do pkill -9 -f "$daemon -c $conf" 2>/dev/null || true; done
  rm -rf "$dir"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  env) print_env ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|env|stop" >&2; exit 64 ;;
esac
