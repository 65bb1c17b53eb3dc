"""The results: a run's report and its files, the baseline of accepted drift, the history, the diff of two runs."""
