#!/usr/bin/env bash
# Train each candidate NLU pipeline in experiments/pipelines/ and evaluate it on the held-out
# sets and the paraphrase sets (tests/nlu/heldout*.yml, tests/nlu/paraphrase*.yml); prints the
# NLU training time, intent accuracy and out-of-scope recall per candidate and set, and writes
# results/pipelines/summary.md.
# Usage: scripts/compare_pipelines.sh [candidate.yml ...]   (make compare-pipelines)
set -euo pipefail
PY=${PY:-.venv/bin/python}
cd "$(dirname "$0")/.."
out=results/pipelines
mkdir -p "$out"
candidates=("$@")
[ ${#candidates[@]} -gt 0 ] || candidates=(experiments/pipelines/*.yml)
sets=(tests/nlu/heldout.yml tests/nlu/heldout_zh.yml tests/nlu/paraphrase.yml tests/nlu/paraphrase_zh.yml)
summary="$out/summary.md"
{
  echo "Intent accuracy / out-of-scope recall per test set."
  echo
  header="| pipeline | NLU training (s) |"
  rule="|---|---|"
  for set in "${sets[@]}"; do
    header="$header $(basename "$set" .yml) |"
    rule="$rule---|"
  done
  echo "$header"
  echo "$rule"
} > "$summary"
for config in "${candidates[@]}"; do
  name=$(basename "$config" .yml)
  echo "== $name"
  start=$(date +%s)
  # RASA_MAX_CACHE_SIZE=0: no training cache, so every candidate trains from scratch and times compare.
  RASA_MAX_CACHE_SIZE=0 "$PY" -m tools.serve train nlu --config "$config" --nlu data --out "$out/models" \
    --fixed-model-name "$name" > "$out/$name.train.log" 2>&1
  seconds=$(( $(date +%s) - start ))
  row="| $name | $seconds |"
  "$PY" -m trainer.evaluate --model "$out/models/$name.tar.gz" ${sets[@]/#/--test-data } \
    --min-accuracy 0 --min-oos-recall 0 --out "$out/$name" > "$out/$name.eval.log" 2>&1
  for set in "${sets[@]}"; do
    stem=$(basename "$set" .yml)
    figures=$("$PY" -c "import json; r=json.load(open('$out/$name/$stem.json')); \
print(f\"{r['intent_accuracy']:.4f} / {r['oos_recall']:.4f}\")")
    row="$row $figures |"
  done
  echo "$row" | tee -a "$summary"
done
echo "Summary: $summary"
