"""What operators see: request ids in every log line, Prometheus metrics, health probes."""
