# id: no-host-path
# subject: manifests
# rationale: a hostPath volume reads and writes the node's own files
package goldenpath.builtin.no_host_path

import data.goldenpath.lib

deny contains msg if {
	some v in lib.pod_spec.volumes
	v.hostPath
	msg := sprintf("volume `%s` mounts the node's path %s", [v.name, v.hostPath.path])
}
