# Helpers shared by the built-in rules (not a rule itself).
package goldenpath.lib

workload_kinds := {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}

pod_spec := input.spec if input.kind == "Pod"

pod_spec := input.spec.jobTemplate.spec.template.spec if input.kind == "CronJob"

pod_spec := input.spec.template.spec if {
	input.kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
}

containers contains c if {
	some c in pod_spec.containers
}

containers contains c if {
	some c in pod_spec.initContainers
}

# A Helm values file (no `kind`), as the gitops driver writes them.
is_values if {
	not input.kind
	endswith(data.goldenpath.object.file, "values.yaml")
}

# Every [path, value] of a values file, walked once per object.
values_walk := [[path, value] |
	is_values
	walk(input, [path, value])
	count(path) > 0
]

# Every value under a key named `key` in a values file, with its path.
values_at(key) := {[path, value] |
	some [path, value] in values_walk
	path[count(path) - 1] == key
}

# An image reference pinned to a digest, or to a tag other than latest.
pinned(image) if contains(image, "@sha256:")

pinned(image) if {
	not contains(image, "@")
	parts := split(image, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	tag := split(last, ":")[1]
	tag != ""
	tag != "latest"
}

where(path) := concat(".", [sprintf("%v", [p]) | some p in path])

host_allowed(host) if host == data.goldenpath.hostSuffix

host_allowed(host) if endswith(host, concat("", [".", data.goldenpath.hostSuffix]))

# A resource change that creates or updates.
writes(rc) if {
	some a in rc.change.actions
	a in {"create", "update"}
}
