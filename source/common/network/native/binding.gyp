{
  "targets": [
    {
      "target_name": "envoy_ts_net",
      "sources": ["listen-socket.c", "acceptor.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
