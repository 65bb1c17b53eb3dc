"""The contract: the spec, how a value is read, the checks and invariants a response is judged by, its consumers."""
