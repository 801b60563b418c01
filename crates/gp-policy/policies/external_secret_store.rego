# id: external-secret-store
# subject: manifests
# rationale: an ExternalSecret naming a store the deployment does not have never syncs
package goldenpath.builtin.external_secret_store

deny contains msg if {
	input.kind == "ExternalSecret"
	store := input.spec.secretStoreRef.name
	not store in data.goldenpath.stores
	msg := sprintf("ExternalSecret `%s` reads the store `%s`, which this deployment does not have (it has: %s)", [input.metadata.name, store, concat(", ", data.goldenpath.stores)])
}
