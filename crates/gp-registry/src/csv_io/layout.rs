//! The layouts a `build_timings.csv` row can have, and what each column
//! can hold: the rule that places a row's cells, and refuses a row whose
//! cells cannot be what their columns hold (a row with a cell missing
//! reads shifted, and a shifted row always puts some cell where it cannot
//! be: an environment name as the phase, a flag as a resource count).

use crate::time::parse_utc;

/// The 12-column layout goldenpath writes, in order.
pub const HEADER_12: [&str; 12] = [
    "start_time_utc",
    "end_time_utc",
    "phase",
    "env",
    "build_id",
    "duration_seconds",
    "exit_code",
    "flags",
    "resources_added",
    "resources_changed",
    "resources_destroyed",
    "log_path",
];
/// The CI writer's layout: resource counts, no flags; its `log_path` holds
/// the workflow run's URL.
pub const HEADER_11: [&str; 11] = [
    "start_time_utc",
    "end_time_utc",
    "phase",
    "env",
    "build_id",
    "duration_seconds",
    "exit_code",
    "resources_added",
    "resources_changed",
    "resources_destroyed",
    "log_path",
];
/// The older layout with an exit code and flags, no resource counts.
pub const HEADER_9: [&str; 9] = [
    "start_time_utc",
    "end_time_utc",
    "phase",
    "env",
    "build_id",
    "duration_seconds",
    "exit_code",
    "flags",
    "log_path",
];
/// The oldest layout: no exit code, flags or resource counts.
pub const HEADER_7: [&str; 7] = [
    "start_time_utc",
    "end_time_utc",
    "phase",
    "env",
    "build_id",
    "duration_seconds",
    "log_path",
];

/// Every layout a row without a header of its own width is read by.
pub const LAYOUTS: [&[&str]; 4] = [&HEADER_7, &HEADER_9, &HEADER_11, &HEADER_12];

/// The widths of the known layouts, for messages.
pub const WIDTHS: &str = "7, 9, 11 or 12";

/// The latest time a row may name: the end of year 9999 (µs).
pub const LATEST_US: i64 = 253_402_300_799_000_000;

/// The longest run a row may record, seconds (ten years): anything longer
/// is no duration, and would overflow the arithmetic of its end.
pub const LONGEST_SECONDS: f64 = 315_360_000.0;

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Holds {
    /// A time `parse_utc` reads; `required` when the row needs it.
    Time { required: bool },
    /// A phase name: a word that is not a time, a number or one of the
    /// spec's environments.
    Phase,
    /// An environment name: a word of letters, digits, `-` and `_` that
    /// starts with a letter (so never a build id, a number or a time).
    Env,
    /// Whatever names a deployment, except a time or a fraction.
    BuildId,
    /// A number of seconds, not negative.
    Seconds,
    /// A whole number (an exit code may be negative).
    Int { negative: bool },
    /// Anything (flags, a path, a URL).
    Text,
}

fn holds(column: &str) -> Holds {
    match column {
        "start_time_utc" => Holds::Time { required: true },
        "end_time_utc" => Holds::Time { required: false },
        "phase" => Holds::Phase,
        "env" => Holds::Env,
        "build_id" => Holds::BuildId,
        "duration_seconds" => Holds::Seconds,
        "exit_code" => Holds::Int { negative: true },
        "resources_added" | "resources_changed" | "resources_destroyed" => {
            Holds::Int { negative: false }
        }
        _ => Holds::Text,
    }
}

/// A time written as a date (not bare epoch seconds, which are also a
/// number).
fn is_written_time(cell: &str) -> bool {
    !cell.bytes().all(|b| b.is_ascii_digit()) && parse_utc(cell).is_some()
}

fn is_number(cell: &str) -> bool {
    cell.parse::<f64>().is_ok_and(f64::is_finite)
}

/// Why `cell` cannot be what `column` holds, or `None` when it can.
/// `envs` are the spec's environments (a phase never is one).
pub fn misfit(column: &str, cell: &str, envs: &[String]) -> Option<String> {
    let why = match holds(column) {
        Holds::Time { required } => {
            if cell.is_empty() {
                if required { "is empty" } else { return None }
            } else if parse_utc(cell).is_none_or(|us| !(0..=LATEST_US).contains(&us)) {
                "is not a time between 1970 and 9999"
            } else {
                return None;
            }
        }
        Holds::Phase => {
            if cell.is_empty() {
                "is empty"
            } else if envs.iter().any(|e| e == cell) {
                "is an environment of the spec"
            } else if is_number(cell) || is_written_time(cell) {
                "is a number or a time"
            } else {
                return None;
            }
        }
        Holds::Env => {
            let word = cell.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && cell
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if cell.is_empty() {
                "is empty"
            } else if envs.iter().any(|e| e == cell) {
                return None;
            } else if !word {
                // A build id (goldenpath's or the older form), a number or
                // a time: each starts with a digit.
                "is not an environment name"
            } else {
                return None;
            }
        }
        Holds::BuildId => {
            if is_written_time(cell) || (cell.contains('.') && is_number(cell)) {
                "is a time or a fraction"
            } else {
                return None;
            }
        }
        Holds::Seconds => match cell.parse::<f64>() {
            _ if cell.is_empty() => return None,
            Ok(v) if v.is_finite() && (0.0..=LONGEST_SECONDS).contains(&v) => return None,
            _ => "is not a number of seconds (at most ten years)",
        },
        Holds::Int { negative } => match cell.parse::<i64>() {
            _ if cell.is_empty() => return None,
            Ok(v) if negative || v >= 0 => return None,
            _ => {
                if negative {
                    "is not a whole number"
                } else {
                    "is not a count"
                }
            }
        },
        Holds::Text => return None,
    };
    Some(format!("{column} `{}` {why}", shown(cell)))
}

/// A cell as a message quotes it: escaped, at most 200 characters.
pub fn shown(cell: &str) -> String {
    let mut out: String = cell
        .chars()
        .take(200)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if cell.chars().nth(200).is_some() {
        out.push('…');
    }
    out
}

/// How a row's cells are placed: the layout it fits, or why it fits none.
/// A row as wide as the file's header is read by the header; any other
/// width by the known layout of that width. A row whose cells cannot be
/// what that layout's columns hold fits no layout.
pub fn fit(fields: &[String], header: &[String], envs: &[String]) -> Result<Vec<String>, String> {
    // The header decides a row as wide as it: a cell it cannot hold is a
    // misfit, never a reason to read the row by another layout.
    let candidates: Vec<Vec<String>> = if fields.len() == header.len() {
        vec![header.to_vec()]
    } else {
        LAYOUTS
            .iter()
            .filter(|l| l.len() == fields.len())
            .map(|l| l.iter().map(|s| s.to_string()).collect())
            .collect()
    };
    if candidates.is_empty() {
        return Err(format!(
            "a row of {} cells fits no layout: the header has {} and the known layouts have {WIDTHS}",
            fields.len(),
            header.len()
        ));
    }
    let mut first_why = None;
    for layout in candidates {
        let mut whys: Vec<String> = layout
            .iter()
            .zip(fields)
            .filter_map(|(c, v)| misfit(c, v, envs))
            .collect();
        let has = |c: &str| {
            layout
                .iter()
                .zip(fields)
                .any(|(l, v)| l == c && !v.is_empty())
        };
        if whys.is_empty() && !has("end_time_utc") && !has("duration_seconds") {
            whys.push("neither end_time_utc nor duration_seconds is given".into());
        }
        if whys.is_empty() {
            return Ok(layout);
        }
        first_why.get_or_insert_with(|| {
            format!(
                "fits no layout of {} cells: {}",
                fields.len(),
                whys.join("; ")
            )
        });
    }
    Err(first_why.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envs() -> Vec<String> {
        vec!["dev".into(), "prod".into()]
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_column_takes_what_it_holds_and_refuses_the_rest() {
        let e = envs();
        for (column, ok, bad) in [
            (
                "start_time_utc",
                &["2025-01-17T09:00:00Z", "2025-01-17 09:00:00", "1737104400"][..],
                &[
                    "",
                    "dev",
                    "yesterday",
                    "99999999999999",
                    "-1",
                    "10000-01-01T00:00:00Z",
                ][..],
            ),
            (
                "end_time_utc",
                &["", "2025-01-17T09:04:00Z", "9999-12-31T23:59:59Z"],
                &["soon", "-86400"],
            ),
            (
                "phase",
                &["terraform-apply", "bootstrap", "=x"],
                &["", "dev", "prod", "120", "2025-01-17T09:00:00Z"],
            ),
            (
                "env",
                &["dev", "staging", "test_2", "eu-west"],
                &["", "23-01-26-01", "20250115-067", "2dev", "dev env", "120"],
            ),
            (
                "build_id",
                &[
                    "",
                    "23-01-26-01",
                    "20250115-067",
                    "rds",
                    "42",
                    "free text (rerun)",
                ],
                &["12.5", "2025-01-17T09:00:00Z"],
            ),
            (
                "duration_seconds",
                &["", "0", "12.5", "300", "315360000"],
                &[
                    "-1",
                    "four minutes",
                    "inf",
                    "NaN",
                    "1e300",
                    "9223372036854775807",
                    "315360000.5",
                ],
            ),
            ("exit_code", &["", "0", "1", "-1"], &["1.5", "failed"]),
            (
                "resources_added",
                &["", "0", "12"],
                &["-1", "--auto-approve", "1.0"],
            ),
            ("flags", &["", "--auto-approve", "12"], &[]),
            (
                "log_path",
                &["", "logs/x.log", "https://ci.example/runs/1"],
                &[],
            ),
        ] {
            for v in ok {
                assert_eq!(misfit(column, v, &e), None, "{column} `{v}`");
            }
            for v in bad {
                let why = misfit(column, v, &e).unwrap_or_else(|| panic!("{column} `{v}`"));
                assert!(why.starts_with(column), "{why}");
            }
        }
        // A cell is quoted escaped and cut at 200 characters.
        let long = format!("{}\n", "x".repeat(300));
        let why = misfit("exit_code", &long, &e).unwrap();
        assert!(why.contains(&format!("`{}…`", "x".repeat(200))), "{why}");
        assert_eq!(shown("a\nb"), "a\\nb");
        // A phase named like an environment is only refused when the spec
        // has that environment.
        assert_eq!(misfit("phase", "staging", &e), None);
        assert!(misfit("phase", "staging", &s(&["staging"])).is_some());
    }

    #[test]
    fn a_row_is_placed_by_its_header_or_the_layout_of_its_width() {
        let e = envs();
        let h12 = s(&HEADER_12);
        // 12 cells under the 12-column header.
        let row = s(&[
            "2026-01-23T10:00:00Z",
            "2026-01-23T10:05:00Z",
            "apply",
            "dev",
            "23-01-26-01",
            "300",
            "0",
            "--auto-approve",
            "12",
            "0",
            "0",
            "logs/a.log",
        ]);
        assert_eq!(fit(&row, &h12, &e).unwrap(), h12);
        // Each narrower layout by its width.
        for layout in [&HEADER_7[..], &HEADER_9[..], &HEADER_11[..]] {
            let row: Vec<String> = layout
                .iter()
                .map(|c| match *c {
                    "start_time_utc" => "2026-01-23T10:00:00Z",
                    "end_time_utc" => "2026-01-23T10:05:00Z",
                    "phase" => "apply",
                    "env" => "dev",
                    "build_id" => "23-01-26-01",
                    "duration_seconds" => "300",
                    "exit_code"
                    | "resources_added"
                    | "resources_changed"
                    | "resources_destroyed" => "0",
                    "flags" => "--auto-approve",
                    _ => "x",
                })
                .map(str::to_string)
                .collect();
            assert_eq!(fit(&row, &h12, &e).unwrap(), s(layout));
        }
        // A header of its own: its columns, in its order.
        let own = s(&["env", "phase", "start_time_utc", "duration_seconds"]);
        let row = s(&["dev", "apply", "2026-01-23T10:00:00Z", "3"]);
        assert_eq!(fit(&row, &own, &e).unwrap(), own);
        // As wide as the header but not what it holds: refused, never read
        // by the known layout of that width (whose last cell is a log).
        let own7 = s(&[
            "start_time_utc",
            "end_time_utc",
            "phase",
            "env",
            "build_id",
            "duration_seconds",
            "exit_code",
        ]);
        let row = s(&[
            "2026-01-01T00:00:00Z",
            "",
            "apply",
            "dev",
            "b",
            "60",
            "99999999999999999999",
        ]);
        assert!(fit(&row, &own7, &e).unwrap_err().contains("exit_code"));
        // Neither an end nor a duration: no layout.
        let row = s(&["dev", "apply", "2026-01-23T10:00:00Z", ""]);
        assert!(fit(&row, &own, &e).unwrap_err().contains("neither"));
        // A width no layout has.
        let err = fit(&s(&["a"; 10]), &h12, &e).unwrap_err();
        assert!(err.contains("10 cells") && err.contains(WIDTHS), "{err}");
    }

    #[test]
    fn a_row_with_a_cell_missing_reads_shifted_and_fits_no_layout() {
        let e = envs();
        let h12 = s(&HEADER_12);
        // The 12-column row without its phase: 11 cells, which the CI
        // writer's layout would read with the environment as the phase.
        let row = s(&[
            "2025-01-20T09:00:00Z",
            "2025-01-20T09:01:00Z",
            "dev",
            "20-01-25-01",
            "60",
            "0",
            "--auto-approve",
            "0",
            "0",
            "0",
            "logs/x.log",
        ]);
        let err = fit(&row, &h12, &e).unwrap_err();
        assert!(err.contains("phase `dev` is an environment"), "{err}");
        assert!(err.contains("env `20-01-25-01` is not"), "{err}");
        assert!(err.contains("exit_code `--auto-approve`"), "{err}");
        // The 9-column row without its phase: 8 cells, no layout.
        let row = s(&[
            "2025-01-20T09:00:00Z",
            "2025-01-20T09:01:00Z",
            "dev",
            "20-01-25-01",
            "60",
            "0",
            "",
            "logs/x.log",
        ]);
        assert!(fit(&row, &h12, &e).unwrap_err().contains("8 cells"));
        // The 7-column row without its environment reads as... nothing
        // either: six cells.
        let row = s(&[
            "2025-01-20T09:00:00Z",
            "",
            "apply",
            "20-01-25-01",
            "60",
            "x.log",
        ]);
        assert!(fit(&row, &h12, &e).is_err());
    }
}
