"""Answers to check training against: `linear_fit` (closed-form least squares for a line) and `numpy_mlp`
(a from-scratch NumPy network to compare Keras' numbers with)."""
