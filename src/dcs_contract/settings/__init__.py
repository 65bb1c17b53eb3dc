"""The settings: the target, how a run behaves, and the configuration file they may come from."""
