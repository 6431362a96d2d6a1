"""Experiment tracking: the run folder's local record (torch-free), the Lightning loggers built
in one place (`loggers.make_loggers`), Neptune, and the comparison page behind
`fststyle.compare`."""
