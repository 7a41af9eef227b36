#!/bin/bash
# The reference runs: gradual pruning and one-shot magnitude + the same fine-tuning (Adam 3e-3, 60 epochs,
# batch 128), seeds 0-2, at 94 % then 96 % global sparsity. Settings chosen once in pilot.sh (validation only).
set -e
cd "$(dirname "$0")/../.."   # the repository
# the experiments' LeNet-5 (96.57 %), from the baseline cache: the model results/experiment-operators names
M=${M:-$(python -c "import json; print(json.load(open('results/experiment-operators/experiment.json'))['model']['path'])")}
D=../shared/data/mnist/mnist-5k.npz
R=results/gradual-mnist5k
LR=0.003
EPOCHS=60
for s in 94 96; do
  for seed in 0 1 2; do
    evoprune gradual --model $M --data $D --final-sparsity 0.$s --epochs $EPOCHS --learning-rate $LR --seed $seed \
        --out $R/gradual-s$s-seed$seed &
    ( evoprune prune --model $M --data $D --algorithm magnitude --sparsity 0.$s --seed $seed --no-progress \
          --out $R/oneshot-s$s-seed$seed &&
      evoprune finetune --model $M --data $D --masks $R/oneshot-s$s-seed$seed/masks.npz --epochs $EPOCHS \
          --learning-rate $LR --seed $seed ) &
    wait
  done
done
