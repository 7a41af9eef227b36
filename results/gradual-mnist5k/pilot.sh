#!/bin/bash
# Choosing the learning rate once, on validation accuracy only (seed 100, not a reported seed).
set -e
cd "$(dirname "$0")/../.."   # the repository
# the experiments' LeNet-5 (96.57 %), from the baseline cache: the model results/experiment-operators names
M=${M:-$(python -c "import json; print(json.load(open('results/experiment-operators/experiment.json'))['model']['path'])")}
D=../shared/data/mnist/mnist-5k.npz
R=results/gradual-mnist5k/pilot
for lr in 0.001 0.003; do
  evoprune gradual --model $M --data $D --final-sparsity 0.94 --epochs 60 --learning-rate $lr --seed 100 \
      --out $R/gradual-s94-lr$lr &
  done
wait
for lr in 0.001 0.003; do
  ( evoprune prune --model $M --data $D --algorithm magnitude --sparsity 0.94 --seed 100 --no-progress \
        --out $R/oneshot-s94-lr$lr &&
    evoprune finetune --model $M --data $D --masks $R/oneshot-s94-lr$lr/masks.npz --epochs 60 \
        --learning-rate $lr --seed 100 ) &
done
wait
