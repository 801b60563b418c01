# id: image-pinned
# subject: manifests
# rationale: an untagged or `latest` image changes under a running deployment; pin a tag or a digest
package goldenpath.builtin.image_pinned

import data.goldenpath.lib

deny contains msg if {
	some c in lib.containers
	not data.goldenpath.lib.pinned(c.image)
	msg := sprintf("container `%s`: image `%s` is not pinned to a tag or a digest", [c.name, c.image])
}

# Helm values: `image: name:tag`, or `image: {repository, tag}` whose tag
# is `latest` (a tag left out takes the chart's appVersion, which is pinned).
deny contains msg if {
	some [path, image] in data.goldenpath.lib.values_at("image")
	is_string(image)
	not data.goldenpath.lib.pinned(image)
	msg := sprintf("values `%s`: image `%s` is not pinned to a tag or a digest", [data.goldenpath.lib.where(path), image])
}

deny contains msg if {
	some [path, image] in data.goldenpath.lib.values_at("image")
	is_object(image)
	image.tag == "latest"
	msg := sprintf("values `%s.tag`: `latest` is not a pinned tag", [data.goldenpath.lib.where(path)])
}
