#!/usr/bin/env bash
# Checks the gpu plugin's nvml backend on a real GPU machine: loads it with a prebuilt `skiff`,
# prints Skiff's device list next to nvidia-smi's, fails unless both name the same GPUs, then
# lets a server run a few health checks and fails if any marks a GPU unhealthy.
# Swift need not be installed there; the binary, libskiff_gpu.so and the Swift runtime must be.
#
#   Benchmarks/gpu-device-check.sh <path to skiff> [folder holding libskiff_gpu.so]
set -euo pipefail

skiff=${1:?usage: $0 <path to skiff> [folder holding libskiff_gpu.so]}
plugins=${2:-$(dirname "$skiff")}
[ -x "$skiff" ] || { echo "not an executable: $skiff" >&2; exit 2; }
[ -f "$plugins/libskiff_gpu.so" ] || { echo "no libskiff_gpu.so in $plugins" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/gpu.yaml" <<EOF
apiVersion: skiff.dev/v1alpha1
kind: Profile
name: gpu-device-check
pluginDirs: ["$plugins"]
plugins:
  - name: gpu
    config: {backend: nvml, healthIntervalSeconds: 0.5}
EOF

echo "== nvidia-smi -L"
nvidia-smi -L | tee "$work/smi.txt"
echo
echo "== nvidia-smi: index, uuid, memory, PCI bus, NUMA affinity"
nvidia-smi --query-gpu=index,uuid,name,memory.total,pci.bus_id --format=csv
nvidia-smi topo -m 2>/dev/null || true
echo
echo "== skiff plugins"
"$skiff" plugins --profile "$work/gpu.yaml" --log-level info
echo
echo "== skiff call gpu.list_json"
"$skiff" call --profile "$work/gpu.yaml" gpu.list_json | tee "$work/skiff.json"
echo
if command -v python3 >/dev/null; then python3 -m json.tool "$work/skiff.json"; fi

# The same UUIDs on both sides, and every device healthy.
grep -o 'GPU-[0-9a-fA-F-]*' "$work/smi.txt" | sort >"$work/smi.uuids"
grep -o '"uuid":"GPU-[0-9a-fA-F-]*"' "$work/skiff.json" | grep -o 'GPU-[0-9a-fA-F-]*' | sort >"$work/skiff.uuids"
if ! diff -u "$work/smi.uuids" "$work/skiff.uuids"; then
  echo "FAIL: nvidia-smi (-) and Skiff (+) list different GPUs" >&2
  exit 1
fi
if grep -q '"health":"Unhealthy"' "$work/skiff.json"; then
  echo "FAIL: Skiff reports an unhealthy GPU" >&2
  exit 1
fi
# A few health rounds on a live server: healthy GPUs must stay healthy (no "is unhealthy" line).
echo "== skiff server for 5 s (health checks every 0.5 s)"
status=0
timeout -s TERM 5 "$skiff" server --profile "$work/gpu.yaml" --log-level info \
  --data-dir "$work/data" 2>"$work/server.log" >/dev/null || status=$?
cat "$work/server.log"
if [ "$status" -ne 0 ] && [ "$status" -ne 124 ]; then
  echo "FAIL: skiff server exited with $status" >&2
  exit 1
fi
if grep -q "is unhealthy" "$work/server.log"; then
  echo "FAIL: a health check marked a GPU unhealthy" >&2
  exit 1
fi
echo
echo "OK: Skiff sees the same $(wc -l <"$work/smi.uuids") GPU(s) as nvidia-smi, healthy through the checks"
