"""The floor: the on-disk format of run and sweep directories, read and written with the standard library and numpy.

Every wing stands on this package and nothing here imports TensorFlow, so the report (and any notebook that reads
results) can use it without paying for TensorFlow's import. `layout` names every file a run or sweep directory
holds; `atomic` writes them so that a kill never leaves a half-written file; `rundir` creates run directories and
records their status; `history` reads and writes per-epoch CSV rows; `checkpoint` saves and restores training state.
"""
