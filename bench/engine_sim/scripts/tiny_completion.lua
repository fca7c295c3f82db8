-- wrk script: tiny non-streaming completions (the zero-latency throughput benchmark).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"sim-model","prompt":"Hello, world","max_tokens":4}'
