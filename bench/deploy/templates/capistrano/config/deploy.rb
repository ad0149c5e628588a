# Written by `npm run bench:deploy`, which passes the lab's hosts, keys and
# paths in the environment.
set :application, "deploy-bench"
set :repo_url, ENV.fetch("BENCH_REPO")
set :branch, "master"
set :deploy_to, ENV.fetch("BENCH_DEPLOY_TO")
set :keep_releases, Integer(ENV.fetch("BENCH_KEEP_RELEASES"))
set :log_level, :info
set :format_options, log_file: ENV.fetch("BENCH_LOG")
set :ssh_options, {
  user: "root",
  keys: [ENV.fetch("BENCH_SSH_KEY")],
  keys_only: true,
  auth_methods: %w[publickey],
  user_known_hosts_file: ENV.fetch("BENCH_KNOWN_HOSTS"),
  global_known_hosts_file: "/dev/null",
  verify_host_key: :always,
  non_interactive: true,
  config: false,
}
