// Validates entities with Backstage's own catalog model: the policies the
// catalog applies on ingestion (schema, default namespace, no foreign root
// fields, field formats) and each kind's validator; then checks that every
// relation (owner, system, domain, dependsOn, dependencyOf, parent,
// children, targets aside) names an entity of the same set.
//
// node validate.js ENTITIES.json   (a JSON array, or {"entities": [...]})
// Prints {"checked": N, "problems": [...]} and exits 1 when there is one.
'use strict';
const fs = require('fs');
const m = require('@backstage/catalog-model');

const policies = m.EntityPolicies.allOf([
  new m.SchemaValidEntityPolicy(),
  new m.DefaultNamespaceEntityPolicy(),
  new m.NoForeignRootFieldsEntityPolicy(),
  new m.FieldFormatEntityPolicy(),
]);
const kinds = {
  Component: m.componentEntityV1alpha1Validator,
  Resource: m.resourceEntityV1alpha1Validator,
  System: m.systemEntityV1alpha1Validator,
  Domain: m.domainEntityV1alpha1Validator,
  Group: m.groupEntityV1alpha1Validator,
  User: m.userEntityV1alpha1Validator,
  Location: m.locationEntityV1alpha1Validator,
  API: m.apiEntityV1alpha1Validator,
};

async function main() {
  const raw = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const entities = Array.isArray(raw) ? raw : raw.entities;
  const problems = [];
  const refs = new Set(entities.map(e => m.stringifyEntityRef(e)));
  for (const e of entities) {
    const who = `${e.kind}:${e.metadata && e.metadata.name}`;
    try {
      const out = await policies.enforce(e);
      if (!out) problems.push(`${who}: rejected by the catalog's policies`);
    } catch (err) {
      problems.push(`${who}: ${err.message}`);
      continue;
    }
    const v = kinds[e.kind];
    if (!v) {
      problems.push(`${who}: no validator for kind ${e.kind}`);
      continue;
    }
    try {
      if (!(await v.check(e))) problems.push(`${who}: not a ${e.kind} of ${e.apiVersion}`);
    } catch (err) {
      problems.push(`${who}: ${err.message}`);
    }
    const spec = e.spec || {};
    const related = [];
    for (const [field, kind] of [['owner', 'group'], ['system', 'system'], ['domain', 'domain'], ['parent', 'group']]) {
      if (typeof spec[field] === 'string') related.push([field, spec[field], kind]);
    }
    for (const field of ['dependsOn', 'dependencyOf', 'children']) {
      for (const r of spec[field] || []) related.push([field, r, field === 'children' ? 'group' : undefined]);
    }
    for (const [field, r, kind] of related) {
      let ref;
      try {
        ref = m.stringifyEntityRef(m.parseEntityRef(r, { defaultKind: kind, defaultNamespace: 'default' }));
      } catch (err) {
        problems.push(`${who}: ${field} ${r}: ${err.message}`);
        continue;
      }
      if (!refs.has(ref)) problems.push(`${who}: ${field} ${r} names no entity of the set`);
    }
  }
  process.stdout.write(JSON.stringify({ checked: entities.length, problems }) + '\n');
  process.exit(problems.length ? 1 : 0);
}

main().catch(err => {
  process.stderr.write(String(err && err.stack || err) + '\n');
  process.exit(2);
});
