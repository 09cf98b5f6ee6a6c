/**
 * What `wproj init` writes: a small, commented starting point that runs and validates as it is:
 * one file source, one rule, one business group whose sink fails over to rescue files, and a
 * `miss` group for lines no rule parses. `wproj init --demo` copies the demo work root instead.
 */
export const STARTER_FILES: Record<string, string> = {
  'conf/wparse.yaml': `# Engine settings. Every key is optional; the defaults are shown. \${VAR} and \${VAR:-default}
# are taken from the environment ($\${ writes a literal \${). See the README, "Configuration".
version: 1
rescue:
  path: \${WPR_RESCUE_DIR:-./data/rescue}   # where a sink spills what its backend did not take
  durability: batch          # fsync | batch (group commit every flush_ms / 2) | none
  flush_ms: 100
reconnect: { initial_ms: 100, max_ms: 5000, jitter: 0.2 }   # how a failed sink probes its backend
performance:
  rate_limit_rps: 10000      # replay speed of wprescue, lines/s; 0 = unlimited
  batch_size: 512            # lines per sink write
recovery:
  order: oldest              # oldest | newest rescue file first
  idle_exit_ms: 3000         # \`wprescue batch\` stops after this long with nothing to do
  workers: 2
  max_retry: 5               # then the job is dead and its file quarantined under dead/
metrics:                     # one address per daemon; empty = off; --metrics-listen overrides
  wparse: { listen: "" }     # e.g. 127.0.0.1:9464
  wprescue: { listen: "" }   # e.g. 127.0.0.1:9465
log: { level: info, file: "./data/logs/{cmd}.log" }   # /dev/stderr in a container
`,
  'conf/wpsrc.yaml': `# Sources: where lines come from. \`wpgen sample\` writes data/in_dat/gen.dat from models/**/sample.dat.
sources:
  - key: app_log
    enable: true
    type: file
    params: { path: ./data/in_dat/gen.dat, from: checkpoint }   # from: start | end | checkpoint
`,
  'models/rules/app.yaml': `# Rules: the first whose regex matches parses the line into a record (named groups = fields).
rules:
  - name: /app/kv
    regex: '^level=(?<level>\\w+) user=(?<user>\\w+) ms=(?<ms>\\d+) msg=(?<msg>.*)$'
    types: { ms: int }
`,
  'models/app/sample.dat': `level=info user=alice ms=12 msg=login ok
level=warn user=bob ms=340 msg=slow query
level=error user=carol ms=5 msg=payment declined
level=info user=dave ms=8 msg=logout
not a log line: no rule parses it, so it goes to the miss group
`,
  'sink/connectors.d/file.yaml': `# Connectors: sink backends with their params; groups pick one with \`connect\` and may override
# the params listed in allow_override.
connectors:
  - id: file_json
    type: file
    params: { base: ./data/out_dat, file: out.json, fmt: json }
    allow_override: [file, fmt]
`,
  'sink/business.d/app.yaml': `# A business group: records of the rules matched by \`rule\` go to every sink whose filter accepts
# them. When a sink's backend fails, its records go to a rescue file under rescue.path and
# \`wprescue\` replays them into the same sink later.
group:
  name: app
  rule: ["/app/*"]
  sinks:
    - name: all
      connect: file_json
      params: { file: app.json }
    - name: errors
      connect: file_json
      params: { file: app_errors.json }
      filter: { field: level, equals: error }   # or { field, matches: <regex> } or { field, in: [a, b] }
`,
  'sink/infra.d/miss.yaml': `# Lines no rule parsed, kept raw (infra groups: default, miss, error, monitor).
group:
  name: miss
  sinks:
    - name: raw
      connect: file_json
      params: { file: miss.json }
`,
};
