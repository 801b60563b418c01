# id: no-host-namespaces
# subject: manifests
# rationale: hostNetwork, hostPID and hostIPC put a pod in the node's own namespaces
package goldenpath.builtin.no_host_namespaces

import data.goldenpath.lib

deny contains msg if {
	some key in ["hostNetwork", "hostPID", "hostIPC"]
	lib.pod_spec[key] == true
	msg := sprintf("the pod sets %s", [key])
}

deny contains msg if {
	some key in ["hostNetwork", "hostPID", "hostIPC"]
	some [path, value] in data.goldenpath.lib.values_at(key)
	value == true
	msg := sprintf("values `%s`: %s", [data.goldenpath.lib.where(path), key])
}
