//! Build ids: `DD-MM-YY-NN`, one per ephemeral deployment.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A concrete build id such as `23-01-26-01`: day, month, two-digit year and a
/// sequence number, with the date part a real calendar date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BuildId {
    // Field order makes the derived ordering chronological.
    year: u8,
    month: u8,
    day: u8,
    seq: u8,
}

/// Why a string is not a build id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildIdError {
    /// The text does not have the `DD-MM-YY-NN` shape.
    #[error(
        "`{0}` is not a build id: expected DD-MM-YY-NN, two digits each (e.g. 23-01-26-01), matching ^[0-9]{{2}}-[0-9]{{2}}-[0-9]{{2}}-[0-9]{{2}}$"
    )]
    Shape(String),
    /// The shape is right but the date does not exist.
    #[error("`{0}` is not a build id: {1:02}-{2:02}-20{3:02} is not a calendar date")]
    NoSuchDate(String, u8, u8, u8),
    /// Sequence numbers start at 01.
    #[error("`{0}` is not a build id: the sequence number must be 01-99")]
    ZeroSequence(String),
}

impl BuildId {
    /// Builds an id from its parts, checking the date and sequence.
    pub fn new(day: u8, month: u8, year: u8, seq: u8) -> Result<Self, BuildIdError> {
        // The text only for an error: a valid id (the common case, once
        // per registry row in a report) formats nothing.
        let text = || format!("{day:02}-{month:02}-{year:02}-{seq:02}");
        if day > 99 || month > 99 || year > 99 || seq > 99 {
            return Err(BuildIdError::Shape(text()));
        }
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(month, year) {
            return Err(BuildIdError::NoSuchDate(text(), day, month, year));
        }
        if seq == 0 {
            return Err(BuildIdError::ZeroSequence(text()));
        }
        Ok(Self {
            day,
            month,
            year,
            seq,
        })
    }

    /// The `DD-MM-YY` date prefix shared by every build of one day.
    pub fn date_prefix(&self) -> String {
        format!("{:02}-{:02}-{:02}", self.day, self.month, self.year)
    }

    /// The sequence number `NN`.
    pub fn seq(&self) -> u8 {
        self.seq
    }

    /// The day of month.
    pub fn day(&self) -> u8 {
        self.day
    }
    /// The month, 1-12.
    pub fn month(&self) -> u8 {
        self.month
    }
    /// The two-digit year (20YY).
    pub fn year(&self) -> u8 {
        self.year
    }

    /// The same date with another sequence number.
    pub fn with_seq(&self, seq: u8) -> Result<Self, BuildIdError> {
        Self::new(self.day, self.month, self.year, seq)
    }
}

fn days_in_month(month: u8, year: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        // Two-digit years are 2000-2099, where the century rule never applies
        // except for 2000 itself, which is a leap year too.
        2 if year.is_multiple_of(4) => 29,
        2 => 28,
        _ => 0,
    }
}

impl fmt::Display for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}-{:02}-{:02}-{:02}",
            self.day, self.month, self.year, self.seq
        )
    }
}

impl FromStr for BuildId {
    type Err = BuildIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        let shape_ok = bytes.len() == 11
            && bytes.iter().enumerate().all(|(i, b)| {
                if i % 3 == 2 {
                    *b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !shape_ok {
            return Err(BuildIdError::Shape(s.to_string()));
        }
        let part = |i: usize| (bytes[i] - b'0') * 10 + (bytes[i + 1] - b'0');
        Self::new(part(0), part(3), part(6), part(9))
    }
}

impl Serialize for BuildId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl schemars::JsonSchema for BuildId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "BuildId".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "DD-MM-YY-NN: a calendar date and a sequence number",
            "type": "string",
            "pattern": "^[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}$"
        })
    }
}

impl<'de> Deserialize<'de> for BuildId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What a user may pass to `--build-id`: a concrete id, or `auto`, which the
/// registry resolves to today's date and the next free sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildIdArg {
    /// Let the registry pick today's next free id.
    Auto,
    /// A specific id.
    Id(BuildId),
}

impl FromStr for BuildIdArg {
    type Err = BuildIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "auto" {
            Ok(Self::Auto)
        } else {
            s.parse().map(Self::Id)
        }
    }
}

impl fmt::Display for BuildIdArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Id(id) => id.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_real_build_id() {
        let id: BuildId = "23-01-26-01".parse().unwrap();
        assert_eq!(id.to_string(), "23-01-26-01");
        assert_eq!(id.date_prefix(), "23-01-26");
        assert_eq!(id.seq(), 1);
    }

    #[test]
    fn refuses_impossible_dates() {
        assert!(matches!(
            "31-02-26-01".parse::<BuildId>(),
            Err(BuildIdError::NoSuchDate(..))
        ));
        assert!(matches!(
            "29-02-26-01".parse::<BuildId>(),
            Err(BuildIdError::NoSuchDate(..))
        ));
        assert!("29-02-28-01".parse::<BuildId>().is_ok());
        assert!(matches!(
            "01-13-26-01".parse::<BuildId>(),
            Err(BuildIdError::NoSuchDate(..))
        ));
        assert!(matches!(
            "00-01-26-01".parse::<BuildId>(),
            Err(BuildIdError::NoSuchDate(..))
        ));
    }

    #[test]
    fn refuses_wrong_shapes() {
        for bad in [
            "1-01-26-01",
            "23-01-2026-01",
            "23-01-26-1",
            "23/01/26/01",
            "",
            "23-01-26-01 ",
            "２3-01-26-01",
            "auto",
        ] {
            assert!(
                matches!(bad.parse::<BuildId>(), Err(BuildIdError::Shape(_))),
                "{bad:?} should be refused for its shape"
            );
        }
        assert!(matches!(
            "23-01-26-00".parse::<BuildId>(),
            Err(BuildIdError::ZeroSequence(_))
        ));
    }

    #[test]
    fn auto_is_distinct() {
        assert_eq!("auto".parse::<BuildIdArg>().unwrap(), BuildIdArg::Auto);
        assert!(matches!(
            "23-01-26-01".parse::<BuildIdArg>().unwrap(),
            BuildIdArg::Id(_)
        ));
        assert!("AUTO".parse::<BuildIdArg>().is_err());
    }

    #[test]
    fn orders_by_day_then_sequence_within_a_date() {
        let a: BuildId = "23-01-26-01".parse().unwrap();
        let b: BuildId = "23-01-26-02".parse().unwrap();
        assert!(a < b);
    }
}
