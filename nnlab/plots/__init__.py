"""Every generic chart nnlab draws, from CSV tables only (matplotlib's Agg backend, pandas): `curves` for learning
curves and overlays, `sweeps` for a sweep's objective, heatmap and trial curves."""
