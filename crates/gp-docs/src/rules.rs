//! The rules, each with a stable id.

/// A rule.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// Stable id, e.g. `GP-META-001`.
    pub id: &'static str,
    /// One line: what it checks.
    pub summary: &'static str,
}

macro_rules! rules {
    ($($name:ident = $id:literal : $summary:literal;)*) => {
        $(
            #[doc = $summary]
            pub const $name: &str = $id;
        )*
        /// Every rule.
        pub const ALL: &[Rule] = &[$(Rule { id: $id, summary: $summary }),*];
    };
}

rules! {
    NO_FRONT_MATTER = "GP-META-001": "A Markdown file must start with YAML front matter between `---` lines.";
    BAD_FRONT_MATTER = "GP-META-002": "Front matter (or a folder metadata.yaml) must be valid YAML mapping.";
    REQUIRED = "GP-META-003": "Fields the document type's schema requires must be present (own or inherited).";
    TYPE = "GP-META-004": "A field must have the type its schema gives.";
    ENUM = "GP-META-005": "A field must hold one of its enum's values.";
    PATTERN = "GP-META-006": "A field must match its schema's pattern.";
    RANGE = "GP-META-007": "A number must lie within its schema's minimum and maximum.";
    UNKNOWN_FIELD = "GP-META-008": "A schema with additionalProperties: false allows no other fields.";
    DUPLICATE_ID = "GP-META-009": "Document ids are unique across the repository.";
    UNRESOLVED = "GP-REL-001": "relates_to, supersedes and superseded_by targets must name a document id or file stem.";
    SUPERSEDES = "GP-REL-002": "supersedes and superseded_by must agree in both documents.";
    NUMBERED_NAME = "GP-NUM-001": "ADRs and changelog entries are named PREFIX-NNNN-slug.md.";
    NUMBERED_ID = "GP-NUM-002": "A numbered document's id is PREFIX-NNNN or its file stem, with the file's number.";
    NUMBERED_DUPLICATE = "GP-NUM-003": "Two numbered documents must not share a number.";
    SIDECAR = "GP-SIDECAR-001": "Each subfolder of a configured folder holds a metadata.yaml.";
    BARE_URL = "GP-MD-001": "URLs are written as links or autolinks, not bare (markdownlint MD034).";
    EMOJI = "GP-EMOJI-001": "Emoji follow the policy: only allowed ones, none in forbidden folders.";
    SESSION_LOG = "GP-SESSION-001": "A change to watched paths includes a session log.";
    APPEND_ONLY = "GP-SESSION-002": "Append-only files only grow below their front matter.";
    INDEX_STALE = "GP-INDEX-001": "The ADR index matches the ADRs (goldenpath docs index).";
    SCHEMA_KEYWORD = "GP-SCHEMA-001": "Schema files use only keywords goldenpath checks; annotations (title, id, status, x-*...) are ignored, any other keyword is reported (a warning, an error with --strict).";
}
