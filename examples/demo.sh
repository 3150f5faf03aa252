#!/usr/bin/env bash
# The main job end to end, on an embedded hub (SQLite in a temp dir):
#   a field worker's profile, reports recorded offline, an inspection walked with an answers
#   file that fails two items, a real `fieldreport sync`, a station decision pulled back, and
#   what the hub received.
set -euo pipefail
cd "$(dirname "$0")/.."
FR="$PWD/.venv/bin/fieldreport"
PY="$PWD/.venv/bin/python"
DEMO="$(mktemp -d)"
HUB_PID=""
cleanup() {
  status=$?
  if [ -n "$HUB_PID" ]; then kill "$HUB_PID" 2>/dev/null || true; wait "$HUB_PID" 2>/dev/null || true; fi
  rm -rf "$DEMO"
  exit $status
}
trap cleanup EXIT
export FIELDREPORT_HOME="$DEMO/laptop" FIELDREPORT_HUB_HOME="$DEMO/hub"
export FIELDREPORT_LANG="${FIELDREPORT_LANG:-zh}" COLUMNS="${COLUMNS:-110}"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "0. 派出所：启动内嵌中心库 / the station starts an embedded hub (SQLite in $DEMO/hub)"
$FR hub init >/dev/null
PORT="$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
$FR hub serve --host 127.0.0.1 --port "$PORT" --log-level warning >"$DEMO/hub.log" 2>&1 &
HUB_PID=$!
HUB="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
  $PY -c "import urllib.request,sys; urllib.request.urlopen('$HUB/v1/health', timeout=1)" 2>/dev/null && break
  sleep 0.1
done
CODE="$($FR hub enroll --officer-id A1024 --name 王芳 --area 东村 --role auxiliary-police --json \
        | $PY -c 'import json,sys; print(json.load(sys.stdin)["code"])')"
echo "hub at $HUB; enrollment code for A1024: $CODE"

step "1. 设置档案并注册本机 / the field worker sets up the laptop and enrols it"
$FR init --name 王芳 --officer-id A1024 --role auxiliary-police --station 城关派出所 --area 东村 --grid 3组 \
    --no-input >/dev/null
$FR login "$HUB" "$CODE"

step "2. 离线登记 / reports recorded offline (no network needed)"
$FR add --kind 隐患 --category 电动车 --level 橙 --title "楼道电动车充电" --place "东村3组12号" \
    --dept fire_rescue --deadline 3d --no-input
$FR add --from examples/reports.json
$FR list
$FR update R-0001 --status in_progress --note "已告知户主，建议立即整改"

step "3. 场所检查 / an inspection of a guesthouse, walked with an answers file (two items fail)"
$FR premises add --name 东村旅社 --type 旅馆业 --address 东村3组8号 --contact 李明 --phone 13812345678 --risk 橙
$FR checklist start 东村旅社 --template hotel --answers examples/answers_demo.json

step "4. 有信号了：同步 / a bar of signal: sync"
$FR status
$FR sync

step "5. 中心库收到的 / what the hub received"
$FR hub reports

step "6. 派出所分流，本机拉取 / the station routes a report; the laptop pulls the decision"
CASE="$($FR hub reports --json | $PY -c 'import json,sys; r=[x for x in json.load(sys.stdin) if x["ref"]=="R-0003"][0]; print(r["case_code"])')"
$FR hub decide "$CASE" --dept judicial_mediation --note "转司法所调解"
$FR sync
$FR show R-0003
$FR status
