#!/bin/bash
# Gradual pruning with the search rule (--rule search: a 25-evaluation hill climb per pruning step, trading kept
# weights for the step's pruned ones while the loss on the training images falls), seeds 0-2, at 94 % then 96 %;
# every other setting as run.sh's gradual runs (Adam 3e-3, 60 epochs, batch 128). Nothing was tuned for it.
set -e
cd "$(dirname "$0")/../.."   # the repository
M=${M:-$(python -c "import json; print(json.load(open('results/experiment-operators/experiment.json'))['model']['path'])")}
D=../shared/data/mnist/mnist-5k.npz
R=results/gradual-mnist5k
for s in 96 94; do
  for seed in 0 1 2; do
    evoprune gradual --model $M --data $D --final-sparsity 0.$s --epochs 60 --learning-rate 0.003 --seed $seed \
        --rule search --out $R/gradual-search-s$s-seed$seed
  done
done
