"""Survey engine: instruments, anonymous answers, anonymity rules and results (built in the survey issue)."""
