#!/usr/bin/env bash
# Benchmarks deploy-jobs render against `cat` (the floor for a byte-preserving filter) and
# against kustomize (kubectl 1.35's, used as a post-renderer with one trivial patch), on
# generated streams of 1, 10 and 100 MB in Helm 3 and Helm 4 style. Prints wall time,
# throughput, peak RSS and the ratios, all measured in this one run.
#
#   scripts/bench.sh            # needs hyperfine (Debian package) and GNU time
#   SIZES="1 10" scripts/bench.sh
#   KUSTOMIZE_MAX_MB=10 scripts/bench.sh   # kustomize grows faster than linearly, so by
#                                          # default it runs on 1 MB only (10 MB took minutes)
#   BASELINE=/path/to/older/deploy-jobs scripts/bench.sh   # also times an earlier build on
#                                          # the same streams, in the same run (x baseline)
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=${SIZES:-"1 10 100"}
kustomize_max=${KUSTOMIZE_MAX_MB:-1}
command -v hyperfine >/dev/null || { echo "bench.sh: needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench.sh: needs GNU time (apt-get install time)" >&2; exit 2; }

cargo build --release --locked --quiet --bin deploy-jobs --example corpus
bin=$PWD/target/release/deploy-jobs
kubectl=$(scripts/install-helm.sh kubectl)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# kustomize as a post-renderer: the stream becomes a resource file, plus one trivial patch
# (an annotation on the first Deployment; the kustomization is written per stream below).
mkdir -p "$work/kust"
kustomization() {
  local first
  first=$(grep -A3 -m1 '^kind: Deployment' "$1" | sed -n 's/^  name: //p' | head -n1)
  cat > "$work/kust/kustomization.yaml" <<YAML
resources: [stream.yaml]
patches:
- target: {kind: Deployment, name: "$first"}
  patch: |-
    - op: add
      path: /metadata/labels/bench
      value: "1"
YAML
}
cat > "$work/kustomize.sh" <<SH
#!/bin/sh
cat > "$work/kust/stream.yaml" && exec "$kubectl" kustomize "$work/kust"
SH
chmod +x "$work/kustomize.sh"

printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tiny\ndata:\n  a: "1"\n' > "$work/tiny.yaml"
while [ "$(wc -c < "$work/tiny.yaml")" -lt 1000 ]; do
  printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tiny\ndata:\n  a: "1"\n' >> "$work/tiny.yaml"
done

results="$work/results.tsv"
: > "$results"
measure() { # name input command... -> appends: name size_mb style mean_s rss_kb
  local name=$1 mb=$2 style=$3 input=$4; shift 4
  # A name ending in "(pipe in)" gets its stream through a pipe, as Helm hands it over;
  # the others read it from the file (a kubectl pipeline, a committed manifest).
  local feed="< $input"
  case $name in *"(pipe in)") feed="< $input cat |" ;; esac
  local runs=10
  local warmup=1
  [ "$name" = kustomize ] && runs=1 warmup=0
  [ "$mb" = 0.001 ] && runs=200
  # Every tool goes through the same plumbing, Helm's: the stream on stdin, and stdout into
  # a pipe that another process reads to the end (Helm reads a post-renderer's output into
  # memory). Writing straight to /dev/null would time `cat` without the copy into a pipe
  # that every real post-renderer pays. The shell and the reader cost the same for every tool.
  hyperfine --style none --warmup "$warmup" --runs "$runs" --export-json "$work/h.json" \
    -- "$feed $* | cat > /dev/null" >/dev/null 2>&1
  local mean rss
  mean=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["mean"])' "$work/h.json")
  case $name in
    *"(pipe in)") rss=$( { cat "$input" | /usr/bin/time -f '%M' "$@" > /dev/null; } 2>&1 | tail -n 1) ;;
    *) rss=$( { /usr/bin/time -f '%M' "$@" < "$input" > /dev/null; } 2>&1 | tail -n 1) ;;
  esac
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$mb" "$style" "$mean" "$rss" >> "$results"
}

baseline=${BASELINE:-}
measure cat 0.001 tiny "$work/tiny.yaml" cat
measure deploy-jobs 0.001 tiny "$work/tiny.yaml" "$bin" render
[ -n "$baseline" ] && measure baseline 0.001 tiny "$work/tiny.yaml" "$baseline" render
for mb in $sizes; do
  for style in helm3 helm4; do
    input="$work/stream-$mb-$style.yaml"
    ./target/release/examples/corpus --bytes $((mb * 1000000)) --style "$style" --seed 7 > "$input"
    measure cat "$mb" "$style" "$input" cat
    measure deploy-jobs "$mb" "$style" "$input" "$bin" render
    [ -n "$baseline" ] && measure baseline "$mb" "$style" "$input" "$baseline" render
    if [ "$style" = helm3 ]; then
      measure "cat (pipe in)" "$mb" "$style" "$input" cat
      measure "deploy-jobs (pipe in)" "$mb" "$style" "$input" "$bin" render
      [ -n "$baseline" ] && measure "baseline (pipe in)" "$mb" "$style" "$input" "$baseline" render
    fi
    if [ "$mb" -le "$kustomize_max" ] && [ "$style" = helm3 ]; then
      kustomization "$input"
      measure kustomize "$mb" "$style" "$input" "$work/kustomize.sh"
    fi
  done
done

python3 - "$results" <<'PY'
import sys, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
data = {(n, mb, st): (float(t), int(r)) for n, mb, st, t, r in rows}
print(f"{'size':>8} {'style':6} {'tool':22} {'time':>10} {'MB/s':>8} {'peak RSS':>10} {'x cat':>7} {'RSS/input':>9} {'vs kustomize':>12} {'x baseline':>10}")
for (n, mb, st), (t, r) in data.items():
    size = float(mb)
    piped = n.endswith("(pipe in)")
    cat = data[("cat (pipe in)" if piped else "cat", mb, st)][0]
    kust = data.get(("kustomize", mb, st))
    vs = f"{kust[0] / t:10.1f}x" if kust and n == "deploy-jobs" else ""
    base = data.get(("baseline (pipe in)" if piped else "baseline", mb, st))
    vb = f"{t / base[0]:10.2f}" if base and n.startswith("deploy-jobs") else ""
    rss_ratio = f"{r / 1024 / size:9.2f}" if size >= 1 else ""
    print(f"{mb + ' MB':>8} {st:6} {n:22} {t * 1000:8.1f}ms {size / t:8.1f} {r / 1024:8.1f}MB {t / cat:7.1f} {rss_ratio:>9} {vs:>12} {vb}")
dj = [(float(mb), data[("deploy-jobs", mb, "helm3")][0]) for (n, mb, st) in data if n == "deploy-jobs" and st == "helm3" and float(mb) >= 1]
if len(dj) > 1:
    base_mb, base_t = dj[0]
    print("linearity (time per MB relative to the smallest size): " + ", ".join(f"{mb:g} MB: {t / mb / (base_t / base_mb):.2f}" for mb, t in dj))
PY
