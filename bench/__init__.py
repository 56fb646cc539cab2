"""Benchmarks for slackgpt (run ``python -m bench.run``)."""
