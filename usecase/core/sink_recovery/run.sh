#!/usr/bin/env bash
# The whole story: an outage, then a full recovery.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bash "$HERE/case_interrupt.sh"
bash "$HERE/case_recovery.sh"
