"""HAR: the traffic recorded by a run, and recorded traffic checked against the spec with nothing sent."""
