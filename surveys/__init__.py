"""Survey engine: instruments, anonymous answers, anonymity rules and results (built in the survey issue).

So far, all pure (no Slack, no database):
- `model`, `loader` (+ `instruments/*.yml`): typed surveys loaded from YAML with line-precise problems;
- `answers`: one submission read against its survey;
- `disclosure`: what any outlet may show (minimum, breakdowns, no subtraction across releases and runs);
- `results`: statistics from counts per (question, value); `chart` (PNG) and `export` (CSV) render them;
- `cli`: the `surveys` click group (`check FILE`).
"""
