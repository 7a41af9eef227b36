#!/usr/bin/env bash
# Gradual pruning with fine-tuning against one-shot magnitude + the same fine-tuning (issue 19): the runs of
# results/gradual-mnist5k/ (LeNet-5, 5k MNIST file) and results/gradual-fashion/ (the 1-million-weight CNN, full
# Fashion-MNIST). Each step is what a hand-run script in those folders did, with the same flags.
#   bash runners/gradual_runs.sh STEP [--out DIR] [--data PATH] [--model PATH]
# STEP:
#   mnist5k-pilot    the learning-rate choice, on validation accuracy only: 1e-3 against 3e-3 at 94 %, 60 epochs,
#                    seed 100 (not a reported seed)                                          -> DIR/pilot/
#   mnist5k          gradual and one-shot magnitude + fine-tuning (Adam 3e-3, 60 epochs, batch 128), seeds 0-2, at
#                    94 % then 96 % global sparsity, two runs at a time
#   mnist5k-search   gradual with the search rule (--rule search), seeds 0-2, at 96 % then 94 %, one at a time
#   mnist5k-98       both rules at 98 %, seeds 0-2, side by side
#   mnist5k-control  the dense control: the same training with nothing pruned, seed 0
#   fashion          gradual and one-shot magnitude + fine-tuning at 94 % on the Fashion CNN with its own training
#                    budget (12 epochs, Adam 1e-3, batch 128), seeds 0-2, then the table
# Defaults: --out results/gradual-mnist5k (fashion: results/gradual-fashion); --data ../shared/data/mnist/mnist-5k.npz
# (fashion: /usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist); --model the baseline
# results/experiment-operators names, LeNet-5 at 96.57 % (fashion: the CNN results/fashion-cnn names, 90.58 %),
# taken from the baseline cache. Relative paths are from the repository.
set -euo pipefail
cd "$(dirname "$0")/.."   # the repository

step=${1:?"usage: bash runners/gradual_runs.sh STEP [--out DIR] [--data PATH] [--model PATH] (STEP: mnist5k-pilot, mnist5k, mnist5k-search, mnist5k-98, mnist5k-control, fashion)"}
shift
case $step in
  fashion) R=results/gradual-fashion; D=/usr/share/datasets/fashion-mnist; from=results/fashion-cnn ;;
  mnist5k|mnist5k-pilot|mnist5k-search|mnist5k-98|mnist5k-control)
    R=results/gradual-mnist5k; D=../shared/data/mnist/mnist-5k.npz; from=results/experiment-operators ;;
  *) echo "gradual_runs.sh: unknown step '$step'" >&2; exit 2 ;;
esac
M=
while [ $# -gt 0 ]; do
  case $1 in
    --out) R=$2; shift 2 ;;
    --data) D=$2; shift 2 ;;
    --model) M=$2; shift 2 ;;
    *) echo "gradual_runs.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
M=${M:-$(python -c "import json, sys; print(json.load(open(sys.argv[1]))['model']['path'])" "$from/experiment.json")}

case $step in
  mnist5k-pilot)
    P=$R/pilot
    for lr in 0.001 0.003; do
      evoprune gradual --model $M --data $D --final-sparsity 0.94 --epochs 60 --learning-rate $lr --seed 100 \
          --out $P/gradual-s94-lr$lr &
    done
    wait
    for lr in 0.001 0.003; do
      ( evoprune prune --model $M --data $D --algorithm magnitude --sparsity 0.94 --seed 100 --no-progress \
            --out $P/oneshot-s94-lr$lr &&
        evoprune finetune --model $M --data $D --masks $P/oneshot-s94-lr$lr/masks.npz --epochs 60 \
            --learning-rate $lr --seed 100 ) &
    done
    wait
    ;;
  mnist5k)
    for s in 94 96; do
      for seed in 0 1 2; do
        evoprune gradual --model $M --data $D --final-sparsity 0.$s --epochs 60 --learning-rate 0.003 --seed $seed \
            --out $R/gradual-s$s-seed$seed &
        ( evoprune prune --model $M --data $D --algorithm magnitude --sparsity 0.$s --seed $seed --no-progress \
              --out $R/oneshot-s$s-seed$seed &&
          evoprune finetune --model $M --data $D --masks $R/oneshot-s$s-seed$seed/masks.npz --epochs 60 \
              --learning-rate 0.003 --seed $seed ) &
        wait
      done
    done
    ;;
  mnist5k-search)
    for s in 96 94; do
      for seed in 0 1 2; do
        evoprune gradual --model $M --data $D --final-sparsity 0.$s --epochs 60 --learning-rate 0.003 --seed $seed \
            --rule search --out $R/gradual-search-s$s-seed$seed
      done
    done
    ;;
  mnist5k-98)
    for seed in 0 1 2; do
      evoprune gradual --model $M --data $D --final-sparsity 0.98 --epochs 60 --learning-rate 0.003 --seed $seed \
          --out $R/gradual-s98-seed$seed &
      evoprune gradual --model $M --data $D --final-sparsity 0.98 --epochs 60 --learning-rate 0.003 --seed $seed \
          --rule search --out $R/gradual-search-s98-seed$seed &
      wait
    done
    ;;
  mnist5k-control)
    evoprune gradual --model $M --data $D --final-sparsity 0 --epochs 60 --learning-rate 0.003 --seed 0 \
        --out $R/control-dense-seed0
    ;;
  fashion)
    for seed in 0 1 2; do
      evoprune gradual --model $M --data $D --final-sparsity 0.94 --epochs 12 --learning-rate 0.001 --seed $seed \
          --out $R/gradual-s94-seed$seed &
      ( evoprune prune --model $M --data $D --algorithm magnitude --sparsity 0.94 --seed $seed --no-progress \
            --out $R/oneshot-s94-seed$seed &&
        evoprune finetune --model $M --data $D --masks $R/oneshot-s94-seed$seed/masks.npz --epochs 12 \
            --learning-rate 0.001 --seed $seed ) &
      wait
    done
    python runners/gradual_table.py $R --sparsities 94
    ;;
esac
