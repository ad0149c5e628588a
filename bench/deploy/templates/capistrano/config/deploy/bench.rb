# The lab's web hosts (comma-separated addresses in BENCH_HOSTS).
ENV.fetch("BENCH_HOSTS").split(",").each do |address|
  server address, user: "root", roles: %w[app web]
end
