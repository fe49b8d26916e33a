#!/usr/bin/env bats
# tdrv-pull: the contract every tool shares (help, version, usage, bad input, stdout
# failures) and --parse.

load helpers

setup() {
    tdrv_test_env
}

@test "tdrv-pull --help prints usage with the exit codes and exits 0" {
    run --separate-stderr -0 tdrv-pull --help
    assert_line --index 0 "usage: tdrv-pull [options] < request.json"
    assert_output --partial "Exit status:"
    assert_output --partial "77 permission denied"
    [ -z "$stderr" ]
}

@test "tdrv-pull --version prints the version" {
    run --separate-stderr -0 tdrv-pull --version
    assert_output --regexp '^tdrv-pull [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "tdrv-pull: an unknown option is a usage error (64) in JSON" {
    run --separate-stderr -64 tdrv-pull --bogus
    jq -e '.error.exit == 64 and .error.code == "usage" and .error.tool == "tdrv-pull"' <<<"$output"
    jq -e '.error.message == "unknown option '"'"'--bogus'"'"'"' <<<"$output"
    [ "${stderr_lines[0]}" = "tdrv-pull: error: unknown option '--bogus'" ]
    [ "${stderr_lines[1]}" = "tdrv-pull: try 'tdrv-pull --help'" ]
}

@test "tdrv-pull: a missing option argument is a usage error (64)" {
    run --separate-stderr -64 tdrv-pull --parse
    jq -e '.error.exit == 64' <<<"$output"
    [ "${stderr_lines[0]}" = "tdrv-pull: error: option '--parse' requires an argument" ]
}

@test "tdrv-pull: malformed JSON on stdin is 65 with the byte offset" {
    run --separate-stderr -65 tdrv-pull <<<'{"config": {"image": "redis"'
    jq -e '.error.exit == 65 and .error.code == "invalid_input"' <<<"$output"
    [ "$stderr" = "tdrv-pull: error: malformed JSON at byte 29: unexpected end" ]
}

@test "tdrv-pull: malformed YAML on stdin is 65 with line and column" {
    run --separate-stderr -65 tdrv-pull <<<$'config:\n  image: redis\n  image: nginx\n'
    jq -e '.error.exit == 65' <<<"$output"
    [ "$stderr" = "tdrv-pull: error: malformed YAML at line 3, column 3: duplicate key 'image'" ]
}

@test "tdrv-pull: a document without config.image is 65 naming the field" {
    run --separate-stderr -65 tdrv-pull <<<'{"task": "web", "config": {}}'
    jq -e '.error.message == "request.config.image: required" and .task == "web"' <<<"$output"
}

@test "tdrv-pull: an invalid image reference in the document is 65" {
    run --separate-stderr -65 tdrv-pull <<<'config: {image: "Redis:7"}'
    jq -e '.error.code == "invalid_reference"' <<<"$output"
    jq -e '.config.image == "Redis:7"' <<<"$output"
}

@test "tdrv-pull: writing to a full stdout is 74" {
    run --separate-stderr -74 bash -c 'tdrv-pull --parse redis >/dev/full'
    [ "$stderr" = "tdrv-pull: error: unable to write output: No space left on device" ]
}

@test "tdrv-pull --parse normalizes as Docker does" {
    run --separate-stderr -0 tdrv-pull --parse redis
    assert_output '{"name":"docker.io/library/redis","domain":"docker.io","path":"library/redis","tag":"latest","digest":null}'
    d=sha256:$(printf '%064d' 0 | tr 0 a)
    run --separate-stderr -0 tdrv-pull --parse "localhost:5000/team/app:v1@$d"
    jq -e --arg d "$d" '.name == "localhost:5000/team/app" and .domain == "localhost:5000" and .path == "team/app" and .tag == "v1" and .digest == $d' <<<"$output"
    run --separate-stderr -0 tdrv-pull --parse "docker://index.docker.io/foo/bar"
    jq -e '.name == "docker.io/foo/bar" and .tag == "latest"' <<<"$output"
}

@test "tdrv-pull --parse refuses an invalid reference with 65 saying why" {
    run --separate-stderr -65 tdrv-pull --parse 'docker/Docker'
    jq -e '.error.code == "invalid_reference" and .error.exit == 65' <<<"$output"
    [ "$stderr" = "tdrv-pull: error: invalid reference format 'docker/Docker': repository name (docker/Docker) must be lowercase" ]
    run --separate-stderr -65 tdrv-pull --parse 'redis@sha256:abc'
    [ "$stderr" = "tdrv-pull: error: invalid reference format 'redis@sha256:abc': invalid digest: too short" ]
}

@test "tdrv-pull: a document carrying an error passes through unchanged with its status" {
    doc='{"task":"web","error":{"tool":"tdrv-ports","code":"port_conflict","exit":75,"message":"x"}}'
    run --separate-stderr -75 tdrv-pull <<<"$doc"
    [ "$output" = "$doc" ]
    [ -z "$stderr" ]
}

@test "tdrv-pull: a Nomad job with several tasks needs --task (64)" {
    run --separate-stderr -64 tdrv-pull <"$TDRV_TOP/tests/fixtures/nomad-job.json"
    jq -e '.error.exit == 64' <<<"$output"
    [[ "${stderr_lines[0]}" == "tdrv-pull: error: "* ]]
}

@test "tdrv-pull --log-format json writes JSON lines on stderr" {
    run --separate-stderr -65 tdrv-pull --log-format json --parse 'A'
    jq -e '.level == "error" and .tool == "tdrv-pull" and (.msg | startswith("invalid reference"))' <<<"$stderr"
}
