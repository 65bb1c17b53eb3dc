"""The engine: one run of the suite against a target, its properties and their plan, and a finding sent again."""
