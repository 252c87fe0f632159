"""Crisis-sign monitoring (위기징후 모니터링): scoring engines and the monitoring tables."""
