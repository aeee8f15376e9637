#!/bin/sh
# Starts the raftkv member of this pod (docs/kubernetes.md). The StatefulSet runs it in the raftkv
# image in place of the image's own entry point, which it then runs with the flags decided here.
#
# Who this member is. The pod raftkv-N keeps its member id on its volume ($VOLUME_DIR/member-id):
# while its data dir holds the member's data, every restart is that member. A pod whose data dir
# is empty has no member yet (the node writes its data dir before it asks to be added, so a member
# the cluster knows always has data) and picks an id:
#   - raftkv-0 .. raftkv-(INITIAL_MEMBERS-1) while the cluster is being created
#     (INITIAL_CLUSTER_STATE=new, from the raftkv-bootstrap ConfigMap): the pod's name;
#   - any other: the pod's name and a random suffix (raftkv-4-9f3c01ab). An empty data dir is a
#     new member, and a new member never takes the id of one that had data: a member that lost
#     its data would vote and acknowledge under its old id without what it had promised, and a
#     committed write could be lost (docs/membership.md).
#
# How it starts. The initial members start with --cluster naming all of them; every other member
# with --join through the initial members' stable names, advertising its own. Both are
# idempotent: on a data dir that holds the member, --cluster only restarts it, and --join does not
# add a member the cluster already lists.
set -eu

: "${HOSTNAME:?set by Kubernetes: the pod name, raftkv-N}"
: "${POD_NAMESPACE:?from the downward API}"
: "${HEADLESS_SERVICE:?the StatefulSet's serviceName}"
: "${INITIAL_MEMBERS:?how many members the cluster was created with}"
: "${VOLUME_DIR:?where the pod's volume is mounted}"
: "${DATA_DIR:?the node's data dir, on the volume}"
state="${INITIAL_CLUSTER_STATE:-existing}"
cli="${CLI_MAIN:-/app/dist/src/cli/main.js}"
port=7001

fail() {
  echo "raftkv-start: $HOSTNAME: $*" >&2
  exit 1
}

name="${HOSTNAME%-*}"
ordinal="${HOSTNAME##*-}"
case "$ordinal" in
  '' | *[!0-9]*) fail "the pod name does not end in an ordinal (raftkv-N)" ;;
esac

# Where member i is reached, by peers and clients alike: its pod's stable DNS name.
address() {
  echo "$name-$1.$HEADLESS_SERVICE.$POD_NAMESPACE.svc:$port"
}

initial=""
seeds=""
i=0
while [ "$i" -lt "$INITIAL_MEMBERS" ]; do
  initial="$initial${initial:+,}$name-$i=$(address "$i")"
  seeds="$seeds${seeds:+,}$(address "$i")"
  i=$((i + 1))
done

is_initial_id() {
  case ",$initial" in
    *",$1="*) return 0 ;;
  esac
  return 1
}

id_file="$VOLUME_DIR/member-id"
if [ -n "$(ls -A "$DATA_DIR" 2>/dev/null)" ]; then
  [ -s "$id_file" ] || fail "$DATA_DIR holds a member's data but $id_file is missing: write the member's id there (raftkv member list shows it next to this pod's address)"
  id="$(cat "$id_file")"
else
  if [ "$ordinal" -lt "$INITIAL_MEMBERS" ] && [ "$state" = new ]; then
    id="$HOSTNAME"
    echo "raftkv-start: $id creates the cluster (INITIAL_CLUSTER_STATE=new); delete the raftkv-bootstrap ConfigMap once all $INITIAL_MEMBERS are ready" >&2
  else
    id="$HOSTNAME-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
  fi
  printf '%s\n' "$id" >"$id_file.tmp"
  mv "$id_file.tmp" "$id_file"
fi

if is_initial_id "$id"; then
  exec node "$cli" start --id "$id" --cluster "$initial" --listen "0.0.0.0:$port"
fi
exec node "$cli" start --id "$id" --join "$seeds" --advertise "$(address "$ordinal")" --listen "0.0.0.0:$port"
