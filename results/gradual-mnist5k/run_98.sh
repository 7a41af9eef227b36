#!/bin/bash
# Gradual pruning to 98 % global sparsity with the magnitude rule and with the search rule, seeds 0-2, side by
# side (two runs at a time); every other setting as run.sh's gradual runs (Adam 3e-3, 60 epochs, batch 128).
set -e
cd "$(dirname "$0")/../.."   # the repository
M=${M:-$(python -c "import json; print(json.load(open('results/experiment-operators/experiment.json'))['model']['path'])")}
D=../shared/data/mnist/mnist-5k.npz
R=results/gradual-mnist5k
for seed in 0 1 2; do
  evoprune gradual --model $M --data $D --final-sparsity 0.98 --epochs 60 --learning-rate 0.003 --seed $seed \
      --out $R/gradual-s98-seed$seed &
  evoprune gradual --model $M --data $D --final-sparsity 0.98 --epochs 60 --learning-rate 0.003 --seed $seed \
      --rule search --out $R/gradual-search-s98-seed$seed &
  wait
done
