"""dcs-contract: contract tests for Huawei Cloud DCS "List DCS Instance Backup Records"."""
