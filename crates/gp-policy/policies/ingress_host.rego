# id: ingress-host-in-suffix
# subject: manifests
# rationale: a deployment serves only names under its own suffix (a build's never the persistent names)
package goldenpath.builtin.ingress_host

import data.goldenpath.lib

hosts contains h if {
	input.kind == "Ingress"
	some r in input.spec.rules
	h := r.host
}

hosts contains h if {
	input.kind == "Ingress"
	some t in input.spec.tls
	some h in t.hosts
}

hosts contains h if {
	input.kind == "HTTPRoute"
	some h in input.spec.hostnames
}

# Helm values: ingress.hosts[].host and ingress.hostname.
hosts contains h if {
	some [_, ingress] in data.goldenpath.lib.values_at("ingress")
	some entry in ingress.hosts
	h := entry.host
}

hosts contains h if {
	some [_, ingress] in data.goldenpath.lib.values_at("ingress")
	h := ingress.hostname
}

deny contains msg if {
	some h in hosts
	is_string(h)
	not data.goldenpath.lib.host_allowed(h)
	msg := sprintf("host `%s` is outside the deployment's suffix %s", [h, data.goldenpath.hostSuffix])
}
