//! Example platforms compiled into the binary for `goldenpath init`. The
//! files are the ones under `examples/` in the repository; a test checks
//! that this list and the directory agree.

/// One example: a name and its files (path relative to the example, text).
pub struct Example {
    /// The name `--example` takes.
    pub name: &'static str,
    /// Its files.
    pub files: &'static [(&'static str, &'static str)],
}

macro_rules! example_file {
    ($example:literal, $path:literal) => {
        (
            $path,
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../examples/",
                $example,
                "/",
                $path
            )),
        )
    };
}

/// Every example.
pub const EXAMPLES: &[Example] = &[
    Example {
        name: "local",
        files: &[
            example_file!("local", "goldenpath.yaml"),
            example_file!("local", "README.md"),
            example_file!("local", "terraform/stand-in-cluster/main.tf"),
            example_file!("local", "terraform/stand-in-irsa/main.tf"),
        ],
    },
    Example {
        name: "golden-v1",
        files: &[
            example_file!("golden-v1", "goldenpath.yaml"),
            example_file!("golden-v1", "README.md"),
            example_file!("golden-v1", "infra/vpc/main.tf"),
            example_file!("golden-v1", "infra/cluster/main.tf"),
            example_file!("golden-v1", "infra/irsa/main.tf"),
            example_file!("golden-v1", "local-aws/run.sh"),
            example_file!("golden-v1", "local-aws/local_aws.py"),
            example_file!("golden-v1", "local-aws/stand-ins/vpc/main.tf"),
            example_file!("golden-v1", "local-aws/stand-ins/cluster/main.tf"),
            example_file!("golden-v1", "local-aws/stand-ins/irsa/main.tf"),
        ],
    },
];

/// The example called `name`.
pub fn find(name: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|e| e.name == name)
}

/// Names for clap's value parser.
pub fn names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(EXAMPLES.iter().map(|e| e.name))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    fn walk(dir: &Path, base: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                out.insert(
                    path.strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }

    #[test]
    fn embedded_examples_match_the_examples_directory() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        for example in super::EXAMPLES {
            let dir = root.join(example.name);
            let mut on_disk = BTreeSet::new();
            walk(&dir, &dir, &mut on_disk);
            on_disk.retain(|p| !p.contains(".goldenpath") && !p.contains(".terraform"));
            let embedded: BTreeSet<String> =
                example.files.iter().map(|(p, _)| p.to_string()).collect();
            assert_eq!(
                embedded, on_disk,
                "examples/{} and the embedded list differ",
                example.name
            );
        }
    }
}
