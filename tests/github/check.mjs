// Checks what goldenpath writes for GitHub against GitHub's own published
// descriptions, and writes the pull request events the tests feed it.
//
//   node check.mjs body deployment FILE   a body of POST /repos/{owner}/{repo}/deployments
//   node check.mjs body status FILE       a body of POST .../deployments/{id}/statuses
//   node check.mjs event ACTION NUMBER HEAD_SHA OUT
//       a pull_request event (GitHub's own example of ACTION, its number and
//       head commit set), validated against the webhook schema, written to OUT
//
// Exit 0: valid; 1: invalid, each error on stderr.

import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import Ajv from "ajv";
import addFormats from "ajv-formats";

const require = createRequire(import.meta.url);

function fail(errors) {
  for (const e of errors) console.error(`${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
  process.exit(1);
}

const [, , what, ...args] = process.argv;

if (what === "body") {
  const [kind, file] = args;
  const api = require("@octokit/openapi/generated/api.github.com.deref.json");
  const path = {
    deployment: "/repos/{owner}/{repo}/deployments",
    status: "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
  }[kind];
  if (!path) fail([{ message: `no body kind ${kind}` }]);
  const schema = structuredClone(api.paths[path].post.requestBody.content["application/json"].schema);
  // Only what GitHub documents: a misspelt property is an error, not ignored.
  schema.additionalProperties = false;
  if (kind === "status") schema.properties.description.maxLength = 140;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  const body = JSON.parse(readFileSync(file, "utf8"));
  if (!validate(body)) fail(validate.errors);
  console.log(`${file}: a valid ${api.paths[path].post.operationId} body`);
} else if (what === "event") {
  const [action, number, sha, out] = args;
  const examples = require("@octokit/webhooks-examples")
    .find((e) => e.name === "pull_request")
    .examples.filter((e) => e.action === action);
  if (examples.length === 0) fail([{ message: `no example of pull_request ${action}` }]);
  const schema = require("@octokit/webhooks-schemas");
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(schema, "webhooks");
  const validate = ajv.getSchema(`webhooks#/definitions/pull_request$${action}`);
  // GitHub's newest example of the action (older ones predate fields the
  // schema now requires), with this pull request's number and head.
  let event;
  let errors = [];
  for (const example of examples) {
    const e = structuredClone(example);
    e.number = Number(number);
    e.pull_request.number = Number(number);
    e.pull_request.head.sha = sha;
    if (validate(e)) {
      event = e;
      break;
    }
    errors = validate.errors;
  }
  if (!event) fail(errors);
  writeFileSync(out, JSON.stringify(event, null, 2));
  console.log(`${out}: a valid pull_request ${action} event`);
} else {
  fail([{ message: "usage: check.mjs body deployment|status FILE | event ACTION NUMBER SHA OUT" }]);
}
