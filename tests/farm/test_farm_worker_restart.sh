#!/usr/bin/env bash
# test_farm_worker_restart.sh - a worker killed (-9) in the middle of its shards and restarted at
# once under the same --worker-id: its first Register says fresh_start, so the coordinator
# re-queues the leases of the dead process right away instead of keeping them until the lease
# timeout (10 min by default here). The heartbeat is long (5 s x 4), so the restarted worker is
# back long before the old process could be declared dead: only fresh_start frees its leases.
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init worker-restart
h_redis_start
h_coord_start --heartbeat-ms 5000 --shard-jobs 50
h_worker_start victim --engine-options delay_ms=20 --credit 200 --batch 8
h_wait_workers 1
h_prompts "$H_DIR/p.txt" 400 wrestart
id=$(h_strike submit "$H_DIR/p.txt") || h_fail "submit failed"
h_until "victim rendered something" bash -c "ls $H_OUT/$id/manifest-victim.jsonl && [ \$(wc -l <$H_OUT/$id/manifest-victim.jsonl) -ge 16 ]"
h_worker_kill victim KILL
leased=$(h_status "$id" | jq .leased)
h_log "killed victim holding $leased jobs; done so far: $(h_status "$id" | jq .done)"
[ "$leased" -gt 0 ] || h_fail "the victim held no leases when killed (test did not exercise anything)"
h_worker_start victim --engine-options delay_ms=1
h_until "old leases re-queued at the restart" grep -q "worker victim started afresh" "$H_DIR/logs/coordinator.log"
h_wait_finished "$id" >/dev/null
h_check_exactly_once "$id" 400
h_done
