"""Evaluation without Lightning: the training objective rebuilt from a model file, the Gatys
optimisation that serves as the teacher, scoring a network against it, and the reports."""
