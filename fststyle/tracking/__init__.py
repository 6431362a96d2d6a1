"""Experiment tracking: the run folder's local record (`run_folder`, torch-free) and its CSV
logger (`csv_logger`); the names both trackers log under (`tracked_names`); the Lightning
loggers built in one place from the CLI options (`build_loggers`) on one base (`base_logger`);
Neptune and MLflow, each a client module without Lightning and a logger; files attached after
training (`artifacts`); and the comparison page behind `fststyle.compare` (`compare_page`)."""
