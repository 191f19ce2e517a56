#!/usr/bin/env bash
# Runs a command with a throwaway Samba AD DC (start-dc.sh) up, and ADJOIN_SAMBA_ENV naming it,
# so the tests that need a real domain controller run instead of skipping:
#
#   deploy/samba/with-dc.sh go test ./...
#
# Without Samba installed (or without root, which the DC's ports need) the command still runs,
# the DC tests skip, and this script says so loudly before and after; under
# ADJOIN_REQUIRE_SAMBA=1 (set by .ci/run) that is a failure instead.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

banner() {
  echo "########################################################################" >&2
  echo "## $*" >&2
  echo "########################################################################" >&2
}

why=""
if ! command -v samba >/dev/null || ! command -v samba-tool >/dev/null || ! command -v kinit >/dev/null ||
  ! command -v smbclient >/dev/null || ! command -v ldapsearch >/dev/null; then
  why="samba, samba-tool, kinit, smbclient or ldapsearch is not installed (apt-get install samba samba-ad-dc krb5-user ldap-utils smbclient)"
elif [ "$(id -u)" != 0 ]; then
  why="not root: the lab DC needs ports 88, 389, 445 and 636"
fi
if [ -n "$why" ]; then
  if [ "${ADJOIN_REQUIRE_SAMBA:-}" = 1 ]; then
    banner "ADJOIN_REQUIRE_SAMBA=1 but no Samba AD DC can run: $why"
    exit 1
  fi
  banner "SAMBA AD DC TESTS WILL BE SKIPPED: $why"
  "$@"
  rc=$?
  banner "SAMBA AD DC TESTS WERE SKIPPED: $why"
  exit $rc
fi

dir=$(mktemp -d /tmp/adjoin-samba.XXXXXX)
"$here/start-dc.sh" start "$dir" || { banner "the lab Samba AD DC did not start; see $dir/provision.log and $dir/log"; exit 1; }
ADJOIN_SAMBA_ENV=$dir/dc.env ADJOIN_REQUIRE_SAMBA=1 "$@"
rc=$?
"$here/start-dc.sh" stop "$dir" >/dev/null
if [ $rc = 0 ]; then rm -rf "$dir"; else echo "the lab DC's files and logs are kept in $dir" >&2; fi
exit $rc
