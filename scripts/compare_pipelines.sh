#!/usr/bin/env bash
# Train each candidate NLU pipeline in experiments/pipelines/ and evaluate it on
# the held-out test set; prints training time, intent accuracy and out-of-scope
# recall per candidate and writes results/pipelines/summary.md.
# Usage: scripts/compare_pipelines.sh [candidate.yml ...]   (make compare-pipelines)
set -euo pipefail
cd "$(dirname "$0")/.."
out=results/pipelines
mkdir -p "$out"
candidates=("$@")
[ ${#candidates[@]} -gt 0 ] || candidates=(experiments/pipelines/*.yml)
summary="$out/summary.md"
{
  echo "| pipeline | NLU training (s) | intent accuracy | out-of-scope recall |"
  echo "|---|---|---|---|"
} > "$summary"
for config in "${candidates[@]}"; do
  name=$(basename "$config" .yml)
  echo "== $name"
  start=$(date +%s)
  # RASA_MAX_CACHE_SIZE=0: no training cache, so every candidate trains from scratch and times compare.
  RASA_MAX_CACHE_SIZE=0 .venv/bin/python -m tools.serve train nlu --config "$config" --nlu data --out "$out/models" \
    --fixed-model-name "$name" > "$out/$name.train.log" 2>&1
  seconds=$(( $(date +%s) - start ))
  .venv/bin/python -m trainer.evaluate --model "$out/models/$name.tar.gz" \
    --test-data tests/nlu/heldout.yml --min-accuracy 0 --min-oos-recall 0 --out "$out/$name" \
    > "$out/$name.eval.log" 2>&1
  read -r acc oos < <(.venv/bin/python -c "import json,sys; r=json.load(open('$out/$name/heldout.json')); print(r['intent_accuracy'], r['oos_recall'])")
  echo "| $name | $seconds | $acc | $oos |" | tee -a "$summary"
done
echo "Summary: $summary"
