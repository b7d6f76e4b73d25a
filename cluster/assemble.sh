#!/usr/bin/env bash
# Assembles the shards that cluster/study.sbatch wrote into one study:
#
#   bash cluster/assemble.sh          # shards/1 ... shards/SHARDS -> all/results.pickle
#
# with the same STUDY_ARGS, SHARDS and SHARDS_DIR as the array (and OUT, the
# folder to assemble in, default all; PROJECT_DIR and PYTHON as there). It
# copies every shard's run files into OUT/runs and runs main.py there without
# --shard, which finds every run finished and writes the same pickle as one
# unsharded study. It first checks that every shard finished, so that the
# assembly never quietly trains a missing shard's runs on this machine: a
# shard that has not says which, and submitting the array again finishes it.
set -euo pipefail

STUDY_ARGS=${STUDY_ARGS:---seeds 50 --train-size 60000}
SHARDS=${SHARDS:-10}
SHARDS_DIR=${SHARDS_DIR:-shards}
OUT=${OUT:-all}
PROJECT_DIR=${PROJECT_DIR:-$(dirname "$0")/..}
PYTHON=${PYTHON:-python}

die() { echo "assemble.sh: error: $*" >&2; exit 1; }

[[ $SHARDS =~ ^[1-9][0-9]*$ ]] || die "SHARDS must be a positive whole number; got '$SHARDS'"
# A shard has finished once main.py has written its results.pickle, the last thing it does.
unfinished=()
for (( shard = 1; shard <= SHARDS; shard++ )); do
    [[ -f $SHARDS_DIR/$shard/results.pickle ]] || unfinished+=("$shard")
done
(( ${#unfinished[@]} == 0 )) || die "shards ${unfinished[*]} of $SHARDS in $SHARDS_DIR have not finished; \
submit the array again (it trains only what is missing), then assemble"
# Each shard's pickle names the whole selection (its runs and the ones it
# lacks); together their runs must cover it. Read with the project's
# restricted unpickler, as every results folder is.
PYTHONPATH=$PROJECT_DIR "$PYTHON" - "$SHARDS_DIR" "$SHARDS" <<'EOF' || exit 1
import sys
from batchgrow import safe_pickle

folder, count = sys.argv[1], int(sys.argv[2])
shards = [safe_pickle.load(f"{folder}/{shard}/results.pickle") for shard in range(1, count + 1)]
asked = set().union(*(set(shard["runs"]) | set(map(tuple, shard["missing"])) for shard in shards))
lacking = asked - set().union(*(shard["runs"] for shard in shards))
if lacking:
    sys.exit(f"assemble.sh: error: the shards in {folder} lack {len(lacking)} runs of their selection, such as "
             f"{sorted(lacking)[0]}; were they run with other STUDY_ARGS or SHARDS?")
EOF
mkdir -p "$OUT/runs"
for (( shard = 1; shard <= SHARDS; shard++ )); do
    find "$SHARDS_DIR/$shard/runs" -maxdepth 1 -name '*.pickle' -exec cp -p -t "$OUT/runs" {} +
done
read -ra args <<<"$STUDY_ARGS"
exec "$PYTHON" "$PROJECT_DIR/main.py" --jobs 1 "${args[@]}" --out "$OUT"
