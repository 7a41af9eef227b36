#!/bin/bash
# Gradual pruning against one-shot magnitude + the same fine-tuning on the 1-million-weight CNN, full Fashion-MNIST
# (Debian's dataset-fashion-mnist), at 94 % global sparsity, seeds 0-2. The training budget is the model's own:
# 12 epochs, Adam 1e-3, batch 128 (fixed before any run; no pilot).
set -e
cd "$(dirname "$0")/../.."   # the repository
# the Fashion CNN (90.58 %), from the baseline cache: the model results/fashion-cnn names
M=${M:-$(python -c "import json; print(json.load(open('results/fashion-cnn/experiment.json'))['model']['path'])")}
D=${D:-/usr/share/datasets/fashion-mnist}
R=results/gradual-fashion
S=94
for seed in 0 1 2; do
  evoprune gradual --model $M --data $D --final-sparsity 0.$S --epochs 12 --learning-rate 0.001 --seed $seed \
      --out $R/gradual-s$S-seed$seed &
  ( evoprune prune --model $M --data $D --algorithm magnitude --sparsity 0.$S --seed $seed --no-progress \
        --out $R/oneshot-s$S-seed$seed &&
    evoprune finetune --model $M --data $D --masks $R/oneshot-s$S-seed$seed/masks.npz --epochs 12 \
        --learning-rate 0.001 --seed $seed ) &
  wait
done
python runners/gradual_table.py $R --sparsities $S
