#!/usr/bin/env bash
# The main job end to end: a field worker's profile, reports recorded offline, an inspection
# walked, a sync to an embedded hub (SQLite in a temp dir), and what the hub received.
set -euo pipefail
cd "$(dirname "$0")/.."
FR=".venv/bin/fieldreport"
DEMO="$(mktemp -d)"
trap 'status=$?; [ -n "${HUB_PID:-}" ] && kill "$HUB_PID" 2>/dev/null; rm -rf "$DEMO"; exit $status' EXIT
export FIELDREPORT_HOME="$DEMO/laptop" FIELDREPORT_LANG="${FIELDREPORT_LANG:-zh}"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. 设置档案 / set up the profile"
$FR init --name 王芳 --officer-id A1024 --role auxiliary-police --station 城关派出所 --area 东村 --grid 3组 --no-input

step "2. 离线登记 / reports recorded offline"
$FR add --kind 隐患 --category 电动车 --level 橙 --title "楼道电动车充电" --place "东村3组12号" --dept fire_rescue --no-input
$FR add --from examples/reports.json
$FR list
$FR show R-0003
$FR update R-0001 --status routed --note "已告知户主，建议立即整改"
$FR status
