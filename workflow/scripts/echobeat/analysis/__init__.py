"""Analysis: beat-by-beat EF, metrics, Dice, AUCs, figures and the comparison, from prediction files (no torch)."""
