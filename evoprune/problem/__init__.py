"""The problem: what is pruned and how a mask is judged (data, importance, objectives, genomes, operators, the DEAP toolbox, Problem)."""
