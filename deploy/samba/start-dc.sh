#!/usr/bin/env bash
# A throwaway Samba Active Directory domain controller on loopback, for adjoin's end-to-end
# tests and for trying adjoin against a real DC.
#
#   deploy/samba/start-dc.sh start DIR   provision a domain under DIR (about 20 s), start samba,
#                                        wait until LDAP, LDAPS and the KDC answer, write DIR/dc.env
#   deploy/samba/start-dc.sh stop DIR    stop the samba started by "start" (by its PID)
#
# Needs Debian packages samba samba-ad-dc krb5-user ldap-utils smbclient, and root (the DC
# listens on the standard ports 53, 88, 135, 389, 445, 464, 636 and 3268 of 127.0.0.1). The
# administrator password is generated on each run and only written to DIR/dc.env (mode 600).
#
# The DC writes Samba's JSON audit events (authentication, directory changes, password changes,
# group changes) into DIR/log/samba.log, which is what adjoin's DC ingestor tails.
set -euo pipefail

REALM=${ADJOIN_SAMBA_REALM:-ADJOIN.TEST}
DOMAIN=${ADJOIN_SAMBA_DOMAIN:-ADJOIN}
HOST=${ADJOIN_SAMBA_HOST:-adjoindc}

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)

stop() {
  local pidfile=$dir/samba.pid
  [ -f "$pidfile" ] || { echo "no $pidfile: nothing to stop" >&2; return 0; }
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    # samba's children (smbd, winbindd) are in samba's process group
    pkill -KILL -g "$pid" 2>/dev/null || true
  fi
  # and helpers started on demand (samba-dcerpcd) name this DC's smb.conf on their command line
  pkill -KILL -f -- "--configfile=$dir/etc/smb.conf" 2>/dev/null || true
  rm -f "$pidfile"
  echo "samba $pid stopped"
}

wait_port() { # host port what
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "samba did not open $3 ($1:$2) within 60 s; see $dir/log/samba.log" >&2
  return 1
}

start() {
  for c in samba samba-tool kinit ldapsearch smbclient; do
    command -v "$c" >/dev/null || { echo "missing $c: apt-get install samba samba-ad-dc krb5-user ldap-utils smbclient" >&2; exit 1; }
  done
  if [ -f "$dir/samba.pid" ] && kill -0 "$(cat "$dir/samba.pid")" 2>/dev/null; then
    echo "samba already running from $dir (pid $(cat "$dir/samba.pid"))" >&2; exit 1
  fi
  # Another DC on these ports would answer in this one's place, with another password: every
  # test would then fail on invalid credentials rather than on what is wrong.
  for port in 88 389 445 636; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "port $port of 127.0.0.1 is in use already (another Samba DC? see: ss -ltnp 'sport = :$port'); stop it first" >&2
      exit 1
    fi
  done
  rm -rf "$dir/etc" "$dir/private" "$dir/state" "$dir/cache" "$dir/lock" "$dir/log" "$dir/sysvol"
  mkdir -p "$dir/log"
  local pass
  pass="Adj-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')-9Z"
  local realm_lower=${REALM,,}
  local base_dn="DC=${realm_lower//./,DC=}"

  echo "provisioning $REALM in $dir ..."
  samba-tool domain provision --targetdir="$dir" --realm="$REALM" --domain="$DOMAIN" \
    --host-name="$HOST" --server-role=dc --dns-backend=SAMBA_INTERNAL --adminpass="$pass" \
    --option="interfaces=lo" --option="bind interfaces only=yes" \
    --option="netbios name=${HOST^^}" \
    --option="log file=$dir/log/samba.log" --option="max log size=0" \
    --option="log level=1 auth_json_audit:3 dsdb_json_audit:5 dsdb_password_json_audit:5 dsdb_group_json_audit:5" \
    --option="dns forwarder=127.0.0.1" >"$dir/provision.log" 2>&1 ||
    { tail -20 "$dir/provision.log" >&2; exit 1; }

  cat >"$dir/krb5.conf" <<EOF
[libdefaults]
	default_realm = $REALM
	dns_lookup_kdc = false
	dns_lookup_realm = false
	rdns = false
[realms]
	$REALM = {
		kdc = 127.0.0.1
		admin_server = 127.0.0.1
	}
EOF

  # provision keeps only some --option values in smb.conf; simple binds over plain LDAP are
  # for labs only
  sed -i "s/^\[global\]$/[global]\n\tldap server require strong auth = no/" "$dir/etc/smb.conf"

  samba --foreground --no-process-group -s "$dir/etc/smb.conf" >"$dir/log/stdout.log" 2>&1 &
  echo $! >"$dir/samba.pid"
  wait_port 127.0.0.1 389 LDAP
  wait_port 127.0.0.1 636 LDAPS
  wait_port 127.0.0.1 88 Kerberos
  wait_port 127.0.0.1 445 SMB
  kill -0 "$(cat "$dir/samba.pid")" 2>/dev/null ||
    { echo "samba exited after opening its ports; see $dir/log/samba.log" >&2; exit 1; }

  umask 077
  cat >"$dir/dc.env" <<EOF
# written by deploy/samba/start-dc.sh; the password is generated per run
SAMBA_DIR=$dir
SAMBA_REALM=$REALM
SAMBA_DOMAIN=$DOMAIN
SAMBA_HOST=$HOST
SAMBA_FQDN=$HOST.$realm_lower
SAMBA_BASE_DN=$base_dn
SAMBA_ADMIN=Administrator
SAMBA_ADMIN_PASSWORD=$pass
SAMBA_CONF=$dir/etc/smb.conf
SAMBA_CA=$dir/private/tls/ca.pem
SAMBA_LOG=$dir/log/samba.log
SAMBA_PID=$(cat "$dir/samba.pid")
KRB5_CONFIG=$dir/krb5.conf
EOF
  echo "samba DC $HOST.$realm_lower running (pid $(cat "$dir/samba.pid")); settings in $dir/dc.env"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
