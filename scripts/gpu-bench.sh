#!/usr/bin/env bash
# GPU benchmark in one command (issue 15): which Vulkan/WebGPU adapter Node's `webgpu` package (Dawn)
# finds, then on that adapter `npm run bench:attention -- --quick` and the published-size networks
# (src/cli/bench.ts --backend webgpu --published: VQ decode 256², fMRI encoder + mappers, one UNet step),
# and the PyTorch reference (python/cad_ref) on CUDA when torch with CUDA is present; one table with
# ratios at the end. Every stage has a time limit; the whole run stays under 8 minutes.
#
#   bash scripts/gpu-bench.sh              # on a machine with a GPU
#   bash scripts/gpu-bench.sh --software   # without one: also run the quick attention bench on SwiftShader
#
# Prerequisites (this script installs nothing):
#   - `npm ci` in the repository (tsx, tfjs, the `webgpu` package with its Dawn binary);
#   - Debian packages: `libvulkan1` (the Vulkan loader) and the GPU's Vulkan driver: NVIDIA's driver
#     with its Vulkan ICD (`nvidia-driver` / `libnvidia-gl-*`, provides /usr/share/vulkan/icd.d/nvidia_icd.json
#     or /etc/vulkan/icd.d/nvidia_icd.json), or `mesa-vulkan-drivers` for AMD/Intel; `vulkan-tools` (vulkaninfo)
#     is optional; `chromium` only for the SwiftShader software fallback;
#   - optional: Python 3 with torch built for CUDA ($PYTHON, default /usr/bin/python3) and numpy.
# VK_ICD_FILENAMES, when set, chooses the Vulkan driver; otherwise every hardware ICD found under
# /usr/share/vulkan/icd.d and /etc/vulkan/icd.d is offered to Dawn (software ICDs are left out).
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
SOFTWARE=0
[ "${1:-}" = "--software" ] && SOFTWARE=1
T0=$(date +%s)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
say() { printf '%s\n' "$*"; }
elapsed() { echo $(( $(date +%s) - T0 )); }

say "# gpu-bench $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
say "node $(node --version), webgpu package $(node -p "require('./node_modules/webgpu/package.json').version" 2>/dev/null || echo 'not installed (run npm ci)')"

# ---- 1. GPUs the system knows of, and the Vulkan drivers (ICDs)
if command -v nvidia-smi >/dev/null 2>&1; then
  say "nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | paste -sd ';')"
else
  say "nvidia-smi: not found"
fi
if [ -z "${VK_ICD_FILENAMES:-}" ]; then
  ICDS=$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null | grep -viE 'swiftshader|lvp|lavapipe' | paste -sd ':')
  if [ -n "$ICDS" ]; then
    export VK_ICD_FILENAMES="$ICDS"
    say "Vulkan hardware ICDs: $ICDS"
  else
    say "Vulkan hardware ICDs: none in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d"
    [ -f /usr/lib/chromium/vk_swiftshader_icd.json ] && export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
  fi
else
  say "Vulkan ICDs from VK_ICD_FILENAMES: $VK_ICD_FILENAMES"
fi
if command -v vulkaninfo >/dev/null 2>&1; then
  say "vulkaninfo --summary (devices):"
  timeout 20 vulkaninfo --summary 2>/dev/null | grep -E 'deviceName|deviceType|driverName' | sed 's/^/  /'
fi

# ---- 2. The WebGPU adapter Dawn gives Node
timeout 60 node --input-type=module -e '
  import { create, globals } from "webgpu";
  Object.assign(globalThis, globals);
  const gpu = create([]);
  const a = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!a) { console.log(JSON.stringify({ none: "requestAdapter() returned null: Dawn found no Vulkan device (is libvulkan1 and a Vulkan driver installed?)" })); process.exit(0); }
  const i = a.info ?? {};
  console.log(JSON.stringify({ vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
    fallback: Boolean(a.isFallbackAdapter || i.isFallbackAdapter), maxBuffer: a.limits?.maxBufferSize, maxStorage: a.limits?.maxStorageBufferBindingSize }));
  process.exit(0);
' >"$TMP/adapter.json" 2>"$TMP/adapter.err"
ADAPTER=$(tail -n1 "$TMP/adapter.json")
if [ -z "$ADAPTER" ]; then
  ADAPTER="{\"none\": \"the webgpu package did not start: $(tail -n1 "$TMP/adapter.err" | tr -d '"' | cut -c1-200)\"}"
fi
say "WebGPU adapter: $ADAPTER"
HW=$(node -e '
  const a = JSON.parse(process.argv[1]);
  const text = [a.vendor, a.architecture, a.device, a.description].join(" ");
  console.log(a.none ? "none" : (a.fallback || /swiftshader|llvmpipe|lavapipe|software|cpu/i.test(text)) ? "software" : "hardware");
' "$ADAPTER")
NAME=$(node -e 'const a = JSON.parse(process.argv[1]); console.log(a.none ? "none" : [a.vendor, a.architecture, a.description || a.device].filter(Boolean).join(" / "))' "$ADAPTER")

# ---- 3. PyTorch on CUDA (independent of the WebGPU adapter)
TORCH='{"error": "not run"}'
if "$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  TORCH_CUDA=1
else
  TORCH_CUDA=0
  TORCH="{\"error\": \"$("$PYTHON" -c 'import torch; print(f"torch {torch.__version__} sees no CUDA device (built with CUDA {torch.version.cuda})")' 2>&1 | tail -n1 | tr -d '"' | cut -c1-160)\"}"
fi

if [ "$HW" != "hardware" ]; then
  say ""
  say "NO HARDWARE GPU: the only WebGPU adapter here is ${NAME} ($HW), i.e. Vulkan on the CPU; GPU figures from it would be meaningless."
  say "PyTorch CUDA: $(node -e 'const t = JSON.parse(process.argv[1]); console.log(t.error ?? "available")' "$TORCH")"
  if [ "$SOFTWARE" = 1 ] && [ "$HW" = software ]; then
    say "--software: running the quick attention bench on the software adapter (a correctness/plumbing check, not a GPU figure)"
    timeout 240 npm run --silent bench:attention -- --quick --only unet || say "bench:attention stopped (exit $?)"
  else
    say "Nothing else was run (pass --software to run the quick attention bench on the software adapter anyway)."
  fi
  say "elapsed $(elapsed) s"
  exit 0
fi

# ---- 4. On the hardware adapter: fused attention, then the published sizes
say ""
say "## bench:attention --quick on ${NAME}"
timeout 150 npm run --silent bench:attention -- --quick 2>&1 | tee "$TMP/attention.txt" || say "bench:attention stopped (exit $?; 150 s limit)"
say ""
say "## published sizes on tfjs-webgpu (${NAME})"
timeout 210 npx tsx src/cli/bench.ts --backend webgpu --published --reps 3 --steps 50 2>&1 | tee "$TMP/bench.txt" || say "bench --published stopped (exit $?; 210 s limit)"

if [ "$TORCH_CUDA" = 1 ]; then
  say ""
  say "## PyTorch reference on CUDA"
  npx tsx -e 'import { PUBLISHED_GOD_SBJ3 } from "./src/model/config"; console.log(JSON.stringify(PUBLISHED_GOD_SBJ3))' >"$TMP/published.json"
  TORCH=$(PYTHONPATH=python timeout 120 "$PYTHON" scripts/gpu_bench_torch.py --config "$TMP/published.json" --reps 5 2>"$TMP/torch.err" | tail -n1)
  [ -z "$TORCH" ] && TORCH="{\"error\": \"scripts/gpu_bench_torch.py failed: $(tail -n1 "$TMP/torch.err" | tr -d '"' | cut -c1-160)\"}"
  say "$TORCH"
fi

# ---- 5. One table
say ""
node -e '
  const fs = require("fs");
  const [benchFile, torchJson, name] = process.argv.slice(1);
  const bench = fs.existsSync(benchFile) ? fs.readFileSync(benchFile, "utf8") : "";
  const torch = JSON.parse(torchJson);
  const ms = (label) => {
    const m = bench.match(new RegExp(label + "[^\\n]*?\\s([0-9.]+) (ms|s)\\s"));
    return m ? Number(m[1]) * (m[2] === "s" ? 1000 : 1) : undefined;
  };
  const rows = [["UNet step (batch 1)", "published: UNet step", "unet_ms"], ["VQ decode 256²", "published: VQ decode", "vq_ms"],
    ["fMRI encoder + mappers", "published: fMRI encoder", "encoder_ms"]];
  const torchHead = torch.error ? "PyTorch CUDA" : `PyTorch ${torch.torch} CUDA (${torch.device})`;
  console.log(`| published size, fp32 | tfjs-webgpu (${name}) | ${torchHead} | tfjs / PyTorch |`);
  console.log("|---|---|---|---|");
  for (const [label, key, tk] of rows) {
    const a = ms(key), b = torch[tk];
    const f = (v) => (v === undefined ? "—" : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`);
    console.log(`| ${label} | ${a === undefined ? "— (see bench output above)" : f(a)} | ${b === undefined ? "— " + (torch.error ?? "") : f(b)} | ${a !== undefined && b !== undefined ? (a / b).toFixed(2) + "×" : "—"} |`);
  }
  const step = ms("published: UNet step");
  if (step !== undefined) console.log(`published PLMS-250 decode ≈ ${(251 * step / 1000).toFixed(1)} s on tfjs-webgpu (251 UNet calls × the step median)`);
' "$TMP/bench.txt" "$TORCH" "$NAME"
say "elapsed $(elapsed) s"
